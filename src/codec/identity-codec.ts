import { CodecDecodeError, type CompressedUnit, type PageCodec, type SealedUnit, type SealPlan } from './page-codec.js';

/** Stores payloads as they are: no compression, no encryption. */
export class IdentityCodec implements PageCodec {
  compress(payload: Uint8Array): CompressedUnit {
    return { flags: 0, data: payload };
  }

  planSeal(unit: CompressedUnit): SealPlan {
    return { flags: unit.flags, keyId: 0, storedLength: unit.data.length };
  }

  seal(unit: CompressedUnit): SealedUnit {
    return { flags: unit.flags, keyId: 0, stored: unit.data };
  }

  open(flags: number, _keyId: number, stored: Uint8Array, rawLength: number): Uint8Array {
    if (flags !== 0) throw new CodecDecodeError(`codec flags 0x${flags.toString(16)} need compression or a key this database was not opened with`);
    if (stored.length !== rawLength) throw new CodecDecodeError('stored length differs from the raw length');
    return stored;
  }
}
