/**
 * Names of the tables the audit layer keeps in every shard, and the fixed keys of audit.meta. Kept in
 * one place so the store, insert, queries, retention and recovery agree. Names avoid the "__" prefix
 * the engine reserves.
 */
export const T_EVENTS = 'audit.events';
export const T_INDEX = 'audit.index';
export const T_IDS = 'audit.ids';
export const T_STATS = 'audit.stats';
export const T_TENANTS = 'audit.tenants';
export const T_FEED = 'audit.feed';
export const T_META = 'audit.meta';
/** Cross-shard batch intents, in the batch's coordinator shard (cross-shard.ts). */
export const T_INTENTS = 'audit.intents';
/** The part of a cross-shard batch each shard committed (cross-shard.ts). */
export const T_PARTS = 'audit.parts';

/** audit.meta: last feed sequence number handed out (8 bytes BE). */
export const META_SEQ = Buffer.from('feed.seq');
/** audit.meta: last tenant number handed out (4 bytes BE). */
export const META_TENANT = Buffer.from('tenant.last');
/** audit.meta: prefix of legal-hold markers, followed by the tenant id (value: 1 byte, 1 = on). */
export const META_HOLD = 'hold:';
