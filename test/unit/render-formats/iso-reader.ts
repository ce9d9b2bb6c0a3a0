/**
 * A small independent ISO 9660 reader for round-trip tests of `writeIso9660`: volume
 * descriptors, the root directory of the primary and the Joliet tree, Rock Ridge NM/PX and the
 * SUSP SP/CE/ER chain. Test code only — it trusts its input.
 */
const SECTOR = 2048;

export interface IsoEntry {
  id: string;
  extent: number;
  size: number;
  dir: boolean;
  /** Rock Ridge name (NM), primary tree only. */
  rrName?: string;
  /** Rock Ridge POSIX mode (PX), primary tree only. */
  rrMode?: number;
  suspSignatures: string[];
}

export interface IsoImage {
  volumeId: string;
  totalSectors: number;
  jolietEscape?: string;
  jolietVolumeId?: string;
  primary: IsoEntry[];
  joliet: IsoEntry[];
  rockRidgeExtension?: string;
  read(entry: IsoEntry): Buffer;
}

function parseSusp(img: Buffer, area: Buffer, out: { sigs: string[]; name?: string; mode?: number; er?: string }): void {
  let i = 0;
  while (i + 4 <= area.length) {
    const sig = area.toString('ascii', i, i + 2);
    const len = area[i + 2] ?? 0;
    if (len < 4) break;
    out.sigs.push(sig);
    if (sig === 'NM') out.name = (out.name ?? '') + area.toString('utf8', i + 5, i + len);
    if (sig === 'PX') out.mode = area.readUInt32LE(i + 4);
    if (sig === 'ER') {
      const idLen = area[i + 4] ?? 0;
      out.er = area.toString('ascii', i + 8, i + 8 + idLen);
    }
    if (sig === 'CE') {
      const block = area.readUInt32LE(i + 4);
      const offset = area.readUInt32LE(i + 12);
      const length = area.readUInt32LE(i + 20);
      parseSusp(img, img.subarray(block * SECTOR + offset, block * SECTOR + offset + length), out);
    }
    i += len;
  }
}

function readDirectory(img: Buffer, extent: number, size: number, joliet: boolean, info: { er?: string }): IsoEntry[] {
  const entries: IsoEntry[] = [];
  for (let sector = 0; sector * SECTOR < size; sector++) {
    let off = (extent + sector) * SECTOR;
    const end = off + SECTOR;
    while (off < end) {
      const len = img[off] ?? 0;
      if (len === 0) break;
      const rec = img.subarray(off, off + len);
      const idLen = rec[32] ?? 0;
      const idBytes = rec.subarray(33, 33 + idLen);
      let id: string;
      if (idLen === 1 && (idBytes[0] === 0 || idBytes[0] === 1)) id = idBytes[0] === 0 ? '.' : '..';
      else id = joliet ? Buffer.from(idBytes).swap16().toString('utf16le') : idBytes.toString('ascii');
      const suStart = 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
      const s: { sigs: string[]; name?: string; mode?: number; er?: string } = { sigs: [] };
      if (!joliet) parseSusp(img, rec.subarray(suStart), s);
      if (s.er) info.er = s.er;
      entries.push({
        id,
        extent: rec.readUInt32LE(2),
        size: rec.readUInt32LE(10),
        dir: ((rec[25] ?? 0) & 0x02) !== 0,
        ...(s.name !== undefined ? { rrName: s.name } : {}),
        ...(s.mode !== undefined ? { rrMode: s.mode } : {}),
        suspSignatures: s.sigs,
      });
      off += len;
    }
  }
  return entries;
}

export function readIso(img: Buffer): IsoImage {
  const info: { er?: string } = {};
  let primary: IsoEntry[] = [];
  let joliet: IsoEntry[] = [];
  let volumeId = '';
  let totalSectors = 0;
  let jolietEscape: string | undefined;
  let jolietVolumeId: string | undefined;
  for (let s = 16; s < 32; s++) {
    const vd = img.subarray(s * SECTOR, (s + 1) * SECTOR);
    if (vd.toString('ascii', 1, 6) !== 'CD001') throw new Error(`sector ${s} is not a volume descriptor`);
    const type = vd[0];
    if (type === 255) break;
    const root = vd.subarray(156, 190);
    const extent = root.readUInt32LE(2);
    const size = root.readUInt32LE(10);
    if (type === 1) {
      volumeId = vd.toString('ascii', 40, 72).trimEnd();
      totalSectors = vd.readUInt32LE(80);
      if (vd.readUInt32BE(84) !== totalSectors) throw new Error('volume space size both-endian mismatch');
      primary = readDirectory(img, extent, size, false, info);
    } else if (type === 2) {
      jolietEscape = vd.toString('ascii', 88, 91);
      jolietVolumeId = Buffer.from(vd.subarray(40, 72)).swap16().toString('utf16le').trimEnd();
      joliet = readDirectory(img, extent, size, true, info);
    }
  }
  return {
    volumeId,
    totalSectors,
    jolietEscape,
    jolietVolumeId,
    primary,
    joliet,
    rockRidgeExtension: info.er,
    read: (e) => img.subarray(e.extent * SECTOR, e.extent * SECTOR + e.size),
  };
}
