/** Where the person is; kept in the URL's hash so a reload (or the back button) returns to the same place. */
export type Screen = 'dashboard' | 'timeline' | 'browse' | 'history' | 'settings' | 'setup';

export interface Route {
  readonly screen: Screen;
  readonly params: Readonly<Record<string, string>>;
}

const SCREENS: readonly Screen[] = ['dashboard', 'timeline', 'browse', 'history', 'settings', 'setup'];

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const screen = (SCREENS as readonly string[]).includes(path) ? (path as Screen) : 'dashboard';
  return { screen, params: Object.fromEntries(new URLSearchParams(query)) };
}

export function routeHash(route: Route): string {
  const query = new URLSearchParams(Object.entries(route.params).filter(([, v]) => v !== '')).toString();
  return `#/${route.screen}${query ? `?${query}` : ''}`;
}
