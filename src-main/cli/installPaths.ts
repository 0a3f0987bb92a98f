/**
 * Files the CLI reads from its installation. This module sits three folders below the project
 * root both compiled (build/src-main/cli) and bundled (build/bundle/cli), so these URLs hold in
 * both; a module in a subfolder (commands/) would not.
 */
export const PACKAGE_JSON = new URL('../../../package.json', import.meta.url);

/** The web UI that `hindsight serve` serves, built by Vite into build/renderer. */
export const RENDERER_DIR = new URL('../../renderer/', import.meta.url);
