/**
 * The process-wide RedbManager the guides describe ("always initialize RedbManager as a singleton
 * before using RedbAuditStore"). Tools and tests that need several stores use RedbManager.open.
 */
import { ValidationError } from '../errors.js';
import { resolveRedbOptions, sameOptions, type RedbOptions } from './options.js';
import { RedbManager } from './redb-manager.js';

let instance: RedbManager | null = null;

/**
 * Opens the process-wide store. Calling it again with the same options returns the same manager;
 * with different ones it throws (close it first).
 */
export function initRedbManager(options?: RedbOptions): RedbManager {
  if (instance && !instance.isClosed) {
    if (!sameOptions(instance.options, resolveRedbOptions(options))) {
      throw new ValidationError(`the RedbManager is already initialised for ${instance.options.baseDir} with other options; call closeRedbManager() first`);
    }
    return instance;
  }
  instance = RedbManager.open(options);
  return instance;
}

/** The process-wide store; throws if initRedbManager has not been called. */
export function getRedbManager(): RedbManager {
  if (!instance || instance.isClosed) throw new ValidationError('the RedbManager is not initialised; call initRedbManager(options) first');
  return instance;
}

/** Closes the process-wide store (if open). */
export function closeRedbManager(): void {
  const m = instance;
  instance = null;
  m?.close();
}
