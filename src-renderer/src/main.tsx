import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { connect } from './api/connection.js';
import { App } from './App.js';
import { AppContext } from './store/appContext.js';
import { createAppStore } from './store/appStore.js';
import './styles.css';

const store = createAppStore(connect());
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AppContext.Provider value={store}>
      <App />
    </AppContext.Provider>
  </StrictMode>,
);
