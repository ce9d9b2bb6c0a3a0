/**
 * A NoCloud seed image (`seed.iso`, volume label `cidata`) written in TypeScript: ISO 9660 with
 * Rock Ridge (SUSP SP/CE/ER, RRIP RR/PX/NM) and Joliet (supplementary volume descriptor, UCS-2
 * names), so `user-data`, `meta-data` and `network-config` keep their real names whichever
 * extension the reader prefers — they are not valid ISO 9660 level 1 names (`USER_DAT.;1`).
 *
 * Scope: one root directory with regular files (what a NoCloud seed needs); no subdirectories.
 *
 * Layout (2048-byte sectors): 0–15 system area · 16 primary VD · 17 Joliet SVD · 18 terminator ·
 * 19/20 primary L/M path tables · 21/22 Joliet L/M path tables · primary root directory ·
 * Joliet root directory · Rock Ridge continuation area (the ER entry) · file data.
 *
 * Runtime contract: pure. Every timestamp comes from `timestamp` (default the epoch), so the
 * same input gives the same bytes. `layoutIso9660` measures an image and writes it into a buffer the
 * caller owns — every field is written in place, nothing is allocated per field — so a batch of a
 * thousand seeds can reuse one buffer (`kubeseed generate` does); `writeIso9660` returns a new one.
 */

const SECTOR = 2048;

export interface IsoFile {
  /** Name in the root directory, e.g. `user-data` (1–64 characters, no `/`). */
  name: string;
  content: Buffer;
}

export interface IsoOptions {
  /** Volume identifier; NoCloud looks for `cidata` (or `CIDATA`). */
  volumeId: string;
  files: IsoFile[];
  /** Recorded as creation/modification time of the volume and every file. Default: the epoch. */
  timestamp?: Date;
}

/** A laid-out image: its size and a writer of its bytes into `target[0, size)`, which must be zero-filled. */
export interface IsoImage {
  size: number;
  writeInto(target: Buffer): void;
}

const RRIP_ID = 'RRIP_1991A';
const RRIP_DESCRIPTOR = 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS';
const RRIP_SOURCE =
  'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.';
/** Bytes of the Rock Ridge `ER` entry (in the continuation area the root's `CE` entry points at). */
const ER_LENGTH = 4 + 4 + RRIP_ID.length + RRIP_DESCRIPTOR.length + RRIP_SOURCE.length;

const DIR_MODE = 0o040555;
const FILE_MODE = 0o100444;

function both16(b: Buffer, at: number, n: number): void {
  b.writeUInt16LE(n, at);
  b.writeUInt16BE(n, at + 2);
}

function both32(b: Buffer, at: number, n: number): void {
  b.writeUInt32LE(n, at);
  b.writeUInt32BE(n, at + 4);
}

/** 7-byte directory record date (UTC). */
function recordDate(d: Date): number[] {
  return [d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0];
}

/** 17-byte volume descriptor date (UTC) as its 16 digits (the 17th byte, the zone, stays 0). */
function volumeDate(d: Date | null): string {
  if (!d) return '0000000000000000';
  const p = (n: number, w: number) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1, 2)}${p(d.getUTCDate(), 2)}${p(d.getUTCHours(), 2)}${p(d.getUTCMinutes(), 2)}${p(d.getUTCSeconds(), 2)}00`;
}

/** ASCII text padded with spaces to `len` bytes. */
function asciiField(b: Buffer, at: number, s: string, len: number): void {
  b.fill(0x20, at, at + len);
  b.write(s.slice(0, len), at, 'ascii');
}

function ucs2be(b: Buffer, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) b.writeUInt16BE(s.charCodeAt(i), at + i * 2);
}

/** UCS-2 big-endian text padded with UCS-2 spaces to `len` bytes. */
function ucs2Field(b: Buffer, at: number, s: string, len: number): void {
  for (let i = 0; i + 1 < len; i += 2) b.writeUInt16BE(0x20, at + i);
  ucs2be(b, at, s.slice(0, Math.floor(len / 2)));
}

/** ISO 9660 level 1 file identifier (`USER_DAT.;1`), unique among `used`. */
export function toIsoLevel1Name(name: string, used: Set<string>): string {
  const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  const dot = name.lastIndexOf('.');
  const base = clean(dot > 0 ? name.slice(0, dot) : name).slice(0, 8) || '_';
  const ext = clean(dot > 0 ? name.slice(dot + 1) : '').slice(0, 3);
  for (let n = 0; n < 1000; n++) {
    const suffix = n === 0 ? '' : String(n);
    const id = `${base.slice(0, 8 - suffix.length)}${suffix}.${ext};1`;
    if (!used.has(id)) {
      used.add(id);
      return id;
    }
  }
  throw new Error(`too many files whose ISO 9660 names collide with ${name}`);
}

/**
 * One directory record: its identifier and System Use area are written by `writeId`/`writeSu`,
 * whose byte lengths are known up front, so a directory is measured before extents are assigned.
 */
interface DirRecord {
  extent: () => number;
  size: () => number;
  dir: boolean;
  idLength: number;
  writeId(b: Buffer, at: number): void;
  suLength: number;
  writeSu(b: Buffer, at: number): void;
}

function recordLength(r: DirRecord): number {
  const len = 33 + r.idLength + (r.idLength % 2 === 0 ? 1 : 0) + r.suLength;
  return len + (len % 2);
}

function writeRecord(b: Buffer, at: number, r: DirRecord, date: number[]): number {
  const len = recordLength(r);
  if (len > 255) throw new Error('ISO 9660 directory record longer than 255 bytes');
  b[at] = len;
  both32(b, at + 2, r.extent());
  both32(b, at + 10, r.size());
  for (let i = 0; i < 7; i++) b[at + 18 + i] = date[i]!;
  b[at + 25] = r.dir ? 0x02 : 0x00;
  both16(b, at + 28, 1);
  b[at + 32] = r.idLength;
  r.writeId(b, at + 33);
  r.writeSu(b, at + 33 + r.idLength + (r.idLength % 2 === 0 ? 1 : 0));
  return len;
}

/** A SUSP entry header (signature, length, version); the body follows at `at + 4`. */
function suspHeader(b: Buffer, at: number, sig: string, length: number): void {
  b.write(sig, at, 'ascii');
  b[at + 2] = length;
  b[at + 3] = 1;
}

const SP_LENGTH = 7;
const RR_LENGTH = 5;
const PX_LENGTH = 36;
const CE_LENGTH = 28;

function sp(b: Buffer, at: number): number {
  suspHeader(b, at, 'SP', SP_LENGTH);
  b[at + 4] = 0xbe;
  b[at + 5] = 0xef;
  return SP_LENGTH;
}

/** RRIP 1.09 `RR` flags: PX = 1, NM = 8. */
function rr(b: Buffer, at: number, flags: number): number {
  suspHeader(b, at, 'RR', RR_LENGTH);
  b[at + 4] = flags;
  return RR_LENGTH;
}

function px(b: Buffer, at: number, mode: number, links: number): number {
  suspHeader(b, at, 'PX', PX_LENGTH);
  both32(b, at + 4, mode);
  both32(b, at + 12, links);
  return PX_LENGTH; // uid and gid stay 0
}

function nm(b: Buffer, at: number, name: Buffer): number {
  suspHeader(b, at, 'NM', 5 + name.length);
  name.copy(b, at + 5); // flags byte at + 4 stays 0
  return 5 + name.length;
}

function ce(b: Buffer, at: number, extent: number): number {
  suspHeader(b, at, 'CE', CE_LENGTH);
  both32(b, at + 4, extent);
  both32(b, at + 20, ER_LENGTH); // offset at + 12 stays 0
  return CE_LENGTH;
}

function er(b: Buffer, at: number): void {
  suspHeader(b, at, 'ER', ER_LENGTH);
  b[at + 4] = RRIP_ID.length;
  b[at + 5] = RRIP_DESCRIPTOR.length;
  b[at + 6] = RRIP_SOURCE.length;
  b[at + 7] = 1;
  b.write(`${RRIP_ID}${RRIP_DESCRIPTOR}${RRIP_SOURCE}`, at + 8, 'ascii');
}

/** Sectors a directory takes: a record never crosses a sector boundary. */
function directorySectors(records: DirRecord[]): number {
  let sectors = 1;
  let offset = 0;
  for (const r of records) {
    const len = recordLength(r);
    if (offset + len > SECTOR) {
      sectors++;
      offset = 0;
    }
    offset += len;
  }
  return sectors;
}

function writeDirectory(b: Buffer, at: number, records: DirRecord[], date: number[]): void {
  let offset = 0;
  for (const r of records) {
    const len = recordLength(r);
    if (offset + len > SECTOR) {
      at += SECTOR;
      offset = 0;
    }
    writeRecord(b, at + offset, r, date);
    offset += len;
  }
}

function pathTable(b: Buffer, at: number, rootExtent: number, bigEndian: boolean): void {
  b[at] = 1;
  if (bigEndian) {
    b.writeUInt32BE(rootExtent, at + 2);
    b.writeUInt16BE(1, at + 6);
  } else {
    b.writeUInt32LE(rootExtent, at + 2);
    b.writeUInt16LE(1, at + 6);
  }
}

interface VolumeDescriptorInput {
  type: 1 | 2;
  volumeId: string;
  totalSectors: number;
  lPathTable: number;
  mPathTable: number;
  root: DirRecord;
  date: Date;
  recordDate: number[];
}

function volumeDescriptor(b: Buffer, at: number, v: VolumeDescriptorInput): void {
  const joliet = v.type === 2;
  const text = (s: string, offset: number, len: number) => (joliet ? ucs2Field : asciiField)(b, at + offset, s, len);
  b[at] = v.type;
  b.write('CD001', at + 1, 'ascii');
  b[at + 6] = 1;
  text('LINUX', 8, 32);
  text(v.volumeId, 40, 32);
  both32(b, at + 80, v.totalSectors);
  if (joliet) b.write('%/E', at + 88, 'ascii'); // UCS-2 level 3
  both16(b, at + 120, 1);
  both16(b, at + 124, 1);
  both16(b, at + 128, SECTOR);
  both32(b, at + 132, 10); // path table size: the root alone
  b.writeUInt32LE(v.lPathTable, at + 140);
  b.writeUInt32BE(v.mPathTable, at + 148);
  writeRecord(b, at + 156, v.root, v.recordDate);
  text('', 190, 128); // volume set
  text('', 318, 128); // publisher
  text('', 446, 128); // data preparer
  text('KUBESEED', 574, 128); // application
  text('', 702, 37);
  text('', 739, 37);
  text('', 776, 37);
  b.write(volumeDate(v.date), at + 813, 'ascii');
  b.write(volumeDate(v.date), at + 830, 'ascii');
  b.write(volumeDate(null), at + 847, 'ascii');
  b.write(volumeDate(null), at + 864, 'ascii');
  b[at + 881] = 1;
}

function terminator(b: Buffer, at: number): void {
  b[at] = 255;
  b.write('CD001', at + 1, 'ascii');
  b[at + 6] = 1;
}

const noBytes = () => {};

/** Measures the image. Throws on an empty or duplicate name, a `/` in a name, or a bad volume id. */
export function layoutIso9660(opts: IsoOptions): IsoImage {
  if (!/^[A-Za-z0-9_-]{1,16}$/.test(opts.volumeId)) {
    throw new Error(`volume id ${JSON.stringify(opts.volumeId)} must be 1–16 letters, digits, _ or - (NoCloud wants cidata)`);
  }
  const names = new Set<string>();
  for (const f of opts.files) {
    if (!f.name || f.name.includes('/') || f.name === '.' || f.name === '..' || f.name.length > 64) {
      throw new Error(`seed file name ${JSON.stringify(f.name)} must be 1–64 characters without '/'`);
    }
    if (names.has(f.name)) throw new Error(`seed file ${f.name} is listed twice`);
    names.add(f.name);
  }
  const date = opts.timestamp ?? new Date(0);
  const rdate = recordDate(date);

  const used = new Set<string>();
  const files = opts.files.map((f) => ({
    ...f,
    isoName: toIsoLevel1Name(f.name, used),
    nameBytes: Buffer.from(f.name, 'utf8'),
    extent: 0,
  }));
  const primaryOrder = [...files].sort((a, b) => (a.isoName < b.isoName ? -1 : a.isoName > b.isoName ? 1 : 0));
  const jolietOrder = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const PVD_SECTOR = 16;
  const PT_L = 19;
  const PT_M = 20;
  const JPT_L = 21;
  const JPT_M = 22;
  const ROOT = 23;
  // Extents are filled in below; record sizes do not depend on them.
  const at = { jroot: 0, ce: 0, primarySize: 0, jolietSize: 0 };
  const selfId = (n: number) => ({
    idLength: 1,
    writeId: (b: Buffer, o: number) => {
      b[o] = n;
    },
  });
  const primaryRoot = (id: 0 | 1) => ({ extent: () => ROOT, size: () => at.primarySize, dir: true, ...selfId(id) });
  const primary: DirRecord[] = [
    {
      ...primaryRoot(0),
      suLength: SP_LENGTH + RR_LENGTH + PX_LENGTH + CE_LENGTH,
      writeSu: (b, o) => {
        o += sp(b, o);
        o += rr(b, o, 0x01);
        o += px(b, o, DIR_MODE, 2);
        ce(b, o, at.ce);
      },
    },
    {
      ...primaryRoot(1),
      suLength: RR_LENGTH + PX_LENGTH,
      writeSu: (b, o) => {
        o += rr(b, o, 0x01);
        px(b, o, DIR_MODE, 2);
      },
    },
    ...primaryOrder.map(
      (f): DirRecord => ({
        extent: () => f.extent,
        size: () => f.content.length,
        dir: false,
        idLength: f.isoName.length,
        writeId: (b, o) => void b.write(f.isoName, o, 'ascii'),
        suLength: RR_LENGTH + 5 + f.nameBytes.length + PX_LENGTH,
        writeSu: (b, o) => {
          o += rr(b, o, 0x09);
          o += nm(b, o, f.nameBytes);
          px(b, o, FILE_MODE, 1);
        },
      }),
    ),
  ];
  const jolietRoot = (id: 0 | 1): DirRecord => ({
    extent: () => at.jroot,
    size: () => at.jolietSize,
    dir: true,
    ...selfId(id),
    suLength: 0,
    writeSu: noBytes,
  });
  const joliet: DirRecord[] = [
    jolietRoot(0),
    jolietRoot(1),
    ...jolietOrder.map(
      (f): DirRecord => ({
        extent: () => f.extent,
        size: () => f.content.length,
        dir: false,
        idLength: f.name.length * 2,
        writeId: (b, o) => ucs2be(b, o, f.name),
        suLength: 0,
        writeSu: noBytes,
      }),
    ),
  ];

  const primarySectors = directorySectors(primary);
  const jolietSectors = directorySectors(joliet);
  at.primarySize = primarySectors * SECTOR;
  at.jolietSize = jolietSectors * SECTOR;
  at.jroot = ROOT + primarySectors;
  at.ce = at.jroot + jolietSectors;
  let next = at.ce + 1;
  for (const f of files) {
    f.extent = next;
    next += Math.ceil(f.content.length / SECTOR);
  }
  const totalSectors = next;
  // The volume descriptors' root records: the directory's `.` entry without System Use.
  const vdRoot = (extent: number, size: number): DirRecord => ({
    extent: () => extent,
    size: () => size,
    dir: true,
    ...selfId(0),
    suLength: 0,
    writeSu: noBytes,
  });

  return {
    size: totalSectors * SECTOR,
    writeInto(b) {
      if (b.length < totalSectors * SECTOR) throw new Error(`ISO image needs ${totalSectors * SECTOR} bytes, the buffer has ${b.length}`);
      const common = { totalSectors, date, recordDate: rdate, volumeId: opts.volumeId };
      volumeDescriptor(b, PVD_SECTOR * SECTOR, {
        type: 1,
        lPathTable: PT_L,
        mPathTable: PT_M,
        root: vdRoot(ROOT, at.primarySize),
        ...common,
      });
      volumeDescriptor(b, (PVD_SECTOR + 1) * SECTOR, {
        type: 2,
        lPathTable: JPT_L,
        mPathTable: JPT_M,
        root: vdRoot(at.jroot, at.jolietSize),
        ...common,
      });
      terminator(b, (PVD_SECTOR + 2) * SECTOR);
      pathTable(b, PT_L * SECTOR, ROOT, false);
      pathTable(b, PT_M * SECTOR, ROOT, true);
      pathTable(b, JPT_L * SECTOR, at.jroot, false);
      pathTable(b, JPT_M * SECTOR, at.jroot, true);
      writeDirectory(b, ROOT * SECTOR, primary, rdate);
      writeDirectory(b, at.jroot * SECTOR, joliet, rdate);
      er(b, at.ce * SECTOR);
      for (const f of files) f.content.copy(b, f.extent * SECTOR);
    },
  };
}

/** A laid-out image's bytes in a new buffer. */
export function imageBytes(image: IsoImage): Buffer {
  const b = Buffer.alloc(image.size);
  image.writeInto(b);
  return b;
}

/** Writes the image into a new buffer. Throws like `layoutIso9660`. */
export function writeIso9660(opts: IsoOptions): Buffer {
  return imageBytes(layoutIso9660(opts));
}

export interface NoCloudSeed {
  /** A Uint8Array too: the seed crosses to the thread that writes it (a Buffer arrives as one). */
  userData: string | Uint8Array;
  metaData: string;
  networkConfig?: string;
  timestamp?: Date;
}

/** The NoCloud seed: `user-data` and `meta-data` (both required by cloud-init), optional `network-config`. */
export function layoutNoCloudSeed(seed: NoCloudSeed): IsoImage {
  const files: IsoFile[] = [
    {
      name: 'user-data',
      content:
        typeof seed.userData === 'string'
          ? Buffer.from(seed.userData, 'utf8')
          : Buffer.from(seed.userData.buffer, seed.userData.byteOffset, seed.userData.byteLength),
    },
    { name: 'meta-data', content: Buffer.from(seed.metaData, 'utf8') },
  ];
  if (seed.networkConfig !== undefined) files.push({ name: 'network-config', content: Buffer.from(seed.networkConfig, 'utf8') });
  return layoutIso9660({ volumeId: 'cidata', files, ...(seed.timestamp ? { timestamp: seed.timestamp } : {}) });
}

export function writeNoCloudSeed(seed: NoCloudSeed): Buffer {
  return imageBytes(layoutNoCloudSeed(seed));
}
