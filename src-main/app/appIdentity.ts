/**
 * The app's id for Windows (AppUserModelID): the NSIS installer's Start menu shortcut carries
 * electron-builder.yml's appId, and Windows shows notifications only for an app whose id has such a
 * shortcut, so the running app must claim the same one (test/app/electronBuilder.test.ts holds them equal).
 */
export const APP_USER_MODEL_ID = 'org.hindsight.desktop';
