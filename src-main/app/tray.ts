import { join } from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions, type NativeImage } from 'electron';
import { afterRedraw, trayRedraw, trayView, type TrayAction, type TrayDrawn, type TrayInput, type TraySetting, type TrayState, type TrayView } from './trayModel.js';

/**
 * The tray icon and its menu, drawn from `trayView`; `trayRedraw` decides
 * which parts change, so a running backup's progress neither makes the icon
 * flicker nor closes an open menu. The current menu is also kept on
 * `globalThis.hindsightTrayMenu`, so an end-to-end test can click its items
 * through Playwright's `app.evaluate` (a tray menu cannot be reached any other way).
 */
export class AppTray {
  private readonly tray: Tray;
  private readonly images = new Map<TrayState, NativeImage>();
  private drawn: TrayDrawn | undefined;
  private later: NodeJS.Timeout | undefined;
  private last: TrayInput | undefined;

  constructor(
    private readonly assets: string,
    private readonly handlers: { readonly action: (action: TrayAction) => void; readonly toggle: (setting: TraySetting, checked: boolean) => void },
  ) {
    this.tray = new Tray(this.image('idle'));
  }

  show(input: TrayInput): void {
    this.last = input;
    const view = trayView(input);
    const now = Date.now();
    const redraw = trayRedraw(this.drawn, view, now);
    if (redraw.image) this.tray.setImage(this.image(view.icon));
    if (redraw.tooltip) this.tray.setToolTip(view.tooltip);
    if (redraw.menu) this.setMenu(view);
    this.drawn = afterRedraw(this.drawn, view, redraw, now);
    if (redraw.menu) {
      clearTimeout(this.later);
      this.later = undefined;
    }
    // The progress line left stale gets its turn, with the latest input.
    if (redraw.again !== undefined && !this.later) {
      this.later = setTimeout(() => {
        this.later = undefined;
        if (this.last) this.show({ ...this.last, now: Date.now() });
      }, redraw.again - now);
    }
  }

  destroy(): void {
    clearTimeout(this.later);
    this.tray.destroy();
  }

  private setMenu(view: TrayView): void {
    const template = view.menu.map((item): MenuItemConstructorOptions => {
      switch (item.kind) {
        case 'status':
          return { id: 'status', label: item.label, enabled: false };
        case 'separator':
          return { type: 'separator' };
        case 'action':
          return { id: item.id, label: item.label, enabled: item.enabled, click: () => this.handlers.action(item.id) };
        case 'toggle':
          return { id: item.id, label: item.label, type: 'checkbox', checked: item.checked, click: (menuItem) => this.handlers.toggle(item.id, menuItem.checked) };
      }
    });
    const menu = Menu.buildFromTemplate(template);
    this.tray.setContextMenu(menu);
    (globalThis as { hindsightTrayMenu?: Menu }).hindsightTrayMenu = menu;
  }

  private image(state: TrayState): NativeImage {
    let image = this.images.get(state);
    if (!image) {
      // macOS draws template images in the menu bar's own colour (light or dark); elsewhere the coloured set.
      const name = process.platform === 'darwin' ? `${state}Template.png` : `${state}.png`;
      image = nativeImage.createFromPath(join(this.assets, 'tray', name));
      if (process.platform === 'darwin') image.setTemplateImage(true);
      this.images.set(state, image);
    }
    return image;
  }
}
