import { join } from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions, type NativeImage } from 'electron';
import { trayView, type TrayAction, type TrayInput, type TraySetting, type TrayState } from './trayModel.js';

/**
 * The tray icon and its menu, redrawn from `trayView` whenever the input
 * changes. The current menu is also kept on `globalThis.hindsightTrayMenu`,
 * so an end-to-end test can click its items through Playwright's
 * `app.evaluate` (a tray menu cannot be reached any other way).
 */
export class AppTray {
  private readonly tray: Tray;
  private readonly images = new Map<TrayState, NativeImage>();

  constructor(
    private readonly assets: string,
    private readonly handlers: { readonly action: (action: TrayAction) => void; readonly toggle: (setting: TraySetting, checked: boolean) => void },
  ) {
    this.tray = new Tray(this.image('idle'));
  }

  show(input: TrayInput): void {
    const view = trayView(input);
    this.tray.setImage(this.image(view.icon));
    this.tray.setToolTip(view.tooltip);
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

  destroy(): void {
    this.tray.destroy();
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
