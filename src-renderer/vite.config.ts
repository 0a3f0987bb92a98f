import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The renderer is built once, for the Electron window and for `hindsight serve`; both load build/renderer/index.html. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: fileURLToPath(new URL('../build/renderer', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    target: 'chrome120',
  },
  logLevel: 'warn',
});
