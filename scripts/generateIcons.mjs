// Generates the app and tray icons in assets/ from assets/icon.svg with
// rsvg-convert (Debian: apt-get install librsvg2-bin). The output is
// committed, so packaging needs no image tool; run `npm run icons` after
// changing the SVG.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const assets = fileURLToPath(new URL('../assets/', import.meta.url));
const svg = readFileSync(join(assets, 'icon.svg'), 'utf8');

function render(source, size) {
  return execFileSync('rsvg-convert', ['--width', String(size), '--height', String(size), '--format', 'png'], { input: source, maxBuffer: 64 << 20 });
}

// App icons: Linux takes the folder of NxN.png, Windows the .ico, macOS the 1024 (electron-builder makes the .icns).
mkdirSync(join(assets, 'icons'), { recursive: true });
const sizes = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const pngs = new Map(sizes.map((size) => [size, render(svg, size)]));
for (const [size, png] of pngs) writeFileSync(join(assets, 'icons', `${size}x${size}.png`), png);

// An .ico whose images are PNGs (Windows Vista and later read them): header, directory, then the images.
const icoSizes = [16, 24, 32, 48, 64, 128, 256];
const header = Buffer.alloc(6 + 16 * icoSizes.length);
header.writeUInt16LE(0, 0);
header.writeUInt16LE(1, 2);
header.writeUInt16LE(icoSizes.length, 4);
let offset = header.length;
icoSizes.forEach((size, i) => {
  const png = pngs.get(size);
  const at = 6 + 16 * i;
  header.writeUInt8(size >= 256 ? 0 : size, at);
  header.writeUInt8(size >= 256 ? 0 : size, at + 1);
  header.writeUInt16LE(1, at + 4);
  header.writeUInt16LE(32, at + 6);
  header.writeUInt32LE(png.length, at + 8);
  header.writeUInt32LE(offset, at + 12);
  offset += png.length;
});
writeFileSync(join(assets, 'icon.ico'), Buffer.concat([header, ...icoSizes.map((size) => pngs.get(size))]));

// Tray: the clock glyph with a badge per state. Coloured for Linux and Windows; black on transparent
// "Template" images for macOS, which recolours them for a light or dark menu bar.
const badges = {
  idle: { color: null, mark: '' },
  running: { color: '#2a9d8f', mark: '<path d="M24 29v-8m-3.5 3.5L24 21l3.5 3.5" stroke="#fff" stroke-width="2" fill="none" stroke-linecap="round" stroke-linejoin="round"/>' },
  paused: { color: '#6c757d', mark: '<path d="M22 21.5v5M26 21.5v5" stroke="#fff" stroke-width="2" stroke-linecap="round"/>' },
  error: { color: '#e63946', mark: '<path d="M24 20.5v4.5" stroke="#fff" stroke-width="2" stroke-linecap="round"/><circle cx="24" cy="28" r="1.2" fill="#fff"/>' },
  behind: { color: '#e9a23b', mark: '<path d="M20.5 24h7" stroke="#fff" stroke-width="2" stroke-linecap="round"/>' },
};

function traySvg(state, template) {
  const { color, mark } = badges[state];
  const ink = template ? '#000' : '#1d3557';
  const hand = template ? '#000' : '#457b9d';
  // In a template the badge is also cut out of the glyph (a ring of transparency), so the two do not merge.
  // In a template only transparency shows, so the badge's mark is cut out of it rather than drawn in white.
  const badge = color
    ? template
      ? `<mask id="b"><rect width="32" height="32" fill="#fff"/>${mark.replaceAll('#fff', '#000')}</mask><circle cx="24" cy="24.5" r="8" fill="#000" mask="url(#b)"/>`
      : `<circle cx="24" cy="24.5" r="8.5" fill="#fff"/><circle cx="24" cy="24.5" r="7" fill="${color}"/>${mark}`
    : '';
  const glyph = `<circle cx="14" cy="15" r="10" fill="${template ? 'none' : '#f1faee'}" stroke="${ink}" stroke-width="3"/><path d="M14 9.5v6l4 2.5" fill="none" stroke="${hand}" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>`;
  const cut = color && template ? '<mask id="m"><rect width="32" height="32" fill="#fff"/><circle cx="24" cy="24.5" r="9.5" fill="#000"/></mask>' : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><defs>${cut}</defs><g${cut ? ' mask="url(#m)"' : ''}>${glyph}</g>${badge}</svg>`;
}

mkdirSync(join(assets, 'tray'), { recursive: true });
for (const state of Object.keys(badges)) {
  writeFileSync(join(assets, 'tray', `${state}.png`), render(traySvg(state, false), 32));
  writeFileSync(join(assets, 'tray', `${state}Template.png`), render(traySvg(state, true), 16));
  writeFileSync(join(assets, 'tray', `${state}Template@2x.png`), render(traySvg(state, true), 32));
}
console.log(`icons written to ${assets}`);
