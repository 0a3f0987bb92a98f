import { HindsightError } from '../../../src-shared/errors.js';
import { BackendError } from './backend.js';

/**
 * How to sign in to a storage account: a connection string (which names its account and may name
 * its endpoint: Azurite, a sovereign cloud), or an account with its key or with a SAS token.
 * `endpoint` is the account's blob endpoint; default https://ACCOUNT.blob.core.windows.net.
 */
export type AzureCredentials =
  | { readonly connectionString: string }
  | { readonly account: string; readonly key: string; readonly endpoint?: string }
  | { readonly account: string; readonly sasToken: string; readonly endpoint?: string };

/** The names a person sets, as the Azure CLI reads them. */
export const AZURE_ENVIRONMENT = 'AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN';

/**
 * Credentials from the environment only, never from the command line (where other users see them in
 * the process list). A connection string wins, as in the Azure CLI; else the account named in the
 * location (azure://ACCOUNT/…), or AZURE_STORAGE_ACCOUNT, with its key or SAS token.
 */
export function azureCredentialsFromEnvironment(account: string | undefined, env: NodeJS.ProcessEnv = process.env): AzureCredentials {
  const connectionString = env.AZURE_STORAGE_CONNECTION_STRING?.trim();
  if (connectionString) return { connectionString };
  const name = account ?? env.AZURE_STORAGE_ACCOUNT?.trim();
  const key = env.AZURE_STORAGE_KEY?.trim();
  const sasToken = env.AZURE_STORAGE_SAS_TOKEN?.trim().replace(/^\?/, '');
  if (name && key) return { account: name, key };
  if (name && sasToken) return { account: name, sasToken };
  const missing = name ? `AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN for the account "${name}"` : AZURE_ENVIRONMENT;
  throw new BackendError('E_AUTH', `No Azure Storage credentials found: set ${missing}.`);
}

/** A key or SAS token kept for one target (the agent keeps them in the keychain), for the account its location names. */
export type KeptAzureSecret = { readonly key: string } | { readonly sasToken: string };

/**
 * The credentials of an Azure target: those kept for it when there are some (they need the account
 * named in the location), else the environment's. `endpoint` is the account's blob endpoint when not
 * Azure's public one; a connection string names its own.
 */
export function azureCredentialsFor(account: string | undefined, kept: KeptAzureSecret | undefined, endpoint: string | undefined, env: NodeJS.ProcessEnv = process.env): AzureCredentials {
  if (kept) {
    if (!account) throw new HindsightError('E_USAGE', 'A key or SAS token kept for an Azure target is for the storage account its location names: write azure://ACCOUNT/container/prefix.');
    return { account, ...kept, ...(endpoint ? { endpoint } : {}) };
  }
  const found = azureCredentialsFromEnvironment(account, env);
  return endpoint && !('connectionString' in found) ? { ...found, endpoint } : found;
}
