import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { AppState, AppStore } from './appStore.js';

export const AppContext = createContext<AppStore | undefined>(undefined);

/** Reads from the app store; re-renders only when the selected value changes. */
export function useApp<T>(selector: (state: AppState) => T): T {
  const store = useContext(AppContext);
  if (!store) throw new Error('useApp outside <AppContext.Provider>');
  return useStore(store, selector);
}

export function useClient() {
  return useApp((s) => s.connection.client);
}
