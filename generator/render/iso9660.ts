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
 * same input gives the same bytes.
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
  /** Where the zero-filled image comes from (default `Buffer.alloc`); see `slabAllocator`. */
  alloc?: (size: number) => Buffer;
}

/**
 * Zero-filled buffers cut from shared 4 MiB slabs. Allocating a thousand separate 80 KiB seed
 * images costs ~0.2 ms each in GC pressure (each is an ArrayBuffer V8 accounts as external
 * memory); slices of a few slabs cost almost nothing. Slices are never reused, so they stay zeroed.
 * A slice keeps its slab alive: use one allocator per batch (`kubeseed generate`), not in a server.
 */
export function slabAllocator(slabSize = 4 << 20): (size: number) => Buffer {
  let slab = Buffer.alloc(0);
  let offset = 0;
  return (size) => {
    if (size > slabSize / 4) return Buffer.alloc(size);
    if (offset + size > slab.length) {
      slab = Buffer.alloc(slabSize);
      offset = 0;
    }
    const b = slab.subarray(offset, offset + size);
    offset += size;
    return b;
  };
}

const RRIP_ID = 'RRIP_1991A';
const RRIP_DESCRIPTOR = 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS';
const RRIP_SOURCE =
  'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.';

function both16(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(n, 0);
  b.writeUInt16BE(n, 2);
  return b;
}

function both32(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(n, 0);
  b.writeUInt32BE(n, 4);
  return b;
}

/** 7-byte directory record date (UTC). */
function recordDate(d: Date): Buffer {
  return Buffer.from([
    d.getUTCFullYear() - 1900,
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    0,
  ]);
}

/** 17-byte volume descriptor date (UTC), or "not specified". */
function volumeDate(d: Date | null): Buffer {
  const b = Buffer.alloc(17, 0);
  if (!d) {
    b.write('0000000000000000', 0, 'ascii');
    return b;
  }
  const p = (n: number, w: number) => String(n).padStart(w, '0');
  const s =
    p(d.getUTCFullYear(), 4) +
    p(d.getUTCMonth() + 1, 2) +
    p(d.getUTCDate(), 2) +
    p(d.getUTCHours(), 2) +
    p(d.getUTCMinutes(), 2) +
    p(d.getUTCSeconds(), 2) +
    '00';
  b.write(s, 0, 'ascii');
  return b;
}

function ascii(s: string, len: number): Buffer {
  const b = Buffer.alloc(len, 0x20);
  b.write(s.slice(0, len), 0, 'ascii');
  return b;
}

function ucs2be(s: string): Buffer {
  const b = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16BE(s.charCodeAt(i), i * 2);
  return b;
}

/** UCS-2 big-endian text padded with UCS-2 spaces to `len` bytes. */
function ucs2Field(s: string, len: number): Buffer {
  const b = Buffer.alloc(len, 0);
  for (let i = 0; i + 1 < len; i += 2) b.writeUInt16BE(0x20, i);
  ucs2be(s.slice(0, Math.floor(len / 2))).copy(b, 0);
  return b;
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

interface RecordInput {
  extent: number;
  size: number;
  dir: boolean;
  id: Buffer;
  date: Buffer;
  systemUse?: Buffer;
}

function directoryRecord(r: RecordInput): Buffer {
  const idPad = r.id.length % 2 === 0 ? 1 : 0;
  const su = r.systemUse ?? Buffer.alloc(0);
  let len = 33 + r.id.length + idPad + su.length;
  const tail = len % 2;
  len += tail;
  if (len > 255) throw new Error('ISO 9660 directory record longer than 255 bytes');
  const b = Buffer.alloc(len, 0);
  b[0] = len;
  b[1] = 0;
  both32(r.extent).copy(b, 2);
  both32(r.size).copy(b, 10);
  r.date.copy(b, 18);
  b[25] = r.dir ? 0x02 : 0x00;
  b[26] = 0;
  b[27] = 0;
  both16(1).copy(b, 28);
  b[32] = r.id.length;
  r.id.copy(b, 33);
  su.copy(b, 33 + r.id.length + idPad);
  return b;
}

function susp(sig: string, version: number, body: Buffer): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b.write(sig, 0, 'ascii');
  b[2] = b.length;
  b[3] = version;
  body.copy(b, 4);
  return b;
}

function rrPosix(mode: number, links: number): Buffer {
  return susp('PX', 1, Buffer.concat([both32(mode), both32(links), both32(0), both32(0)]));
}

/** RRIP 1.09 `RR` flags: PX = 1, NM = 8. */
function rrFlags(flags: number): Buffer {
  return susp('RR', 1, Buffer.from([flags]));
}

function rrName(name: string): Buffer {
  return susp('NM', 1, Buffer.concat([Buffer.from([0]), Buffer.from(name, 'utf8')]));
}

function erEntry(): Buffer {
  const id = Buffer.from(RRIP_ID, 'ascii');
  const des = Buffer.from(RRIP_DESCRIPTOR, 'ascii');
  const src = Buffer.from(RRIP_SOURCE, 'ascii');
  return susp('ER', 1, Buffer.concat([Buffer.from([id.length, des.length, src.length, 1]), id, des, src]));
}

/** Packs records into sectors (a record never crosses a sector boundary); returns the padded extent. */
function packDirectory(records: Buffer[]): Buffer {
  const sectors: Buffer[] = [];
  let current = Buffer.alloc(SECTOR, 0);
  let offset = 0;
  for (const r of records) {
    if (offset + r.length > SECTOR) {
      sectors.push(current);
      current = Buffer.alloc(SECTOR, 0);
      offset = 0;
    }
    r.copy(current, offset);
    offset += r.length;
  }
  sectors.push(current);
  return Buffer.concat(sectors);
}

function directorySectors(records: Buffer[]): number {
  let sectors = 1;
  let offset = 0;
  for (const r of records) {
    if (offset + r.length > SECTOR) {
      sectors++;
      offset = 0;
    }
    offset += r.length;
  }
  return sectors;
}

function pathTable(rootExtent: number, bigEndian: boolean): Buffer {
  const b = Buffer.alloc(10, 0);
  b[0] = 1;
  b[1] = 0;
  if (bigEndian) {
    b.writeUInt32BE(rootExtent, 2);
    b.writeUInt16BE(1, 6);
  } else {
    b.writeUInt32LE(rootExtent, 2);
    b.writeUInt16LE(1, 6);
  }
  b[8] = 0;
  return b;
}

interface VolumeDescriptorInput {
  type: 1 | 2;
  volumeId: string;
  totalSectors: number;
  pathTableSize: number;
  lPathTable: number;
  mPathTable: number;
  rootRecord: Buffer;
  date: Date;
}

function volumeDescriptor(v: VolumeDescriptorInput): Buffer {
  const b = Buffer.alloc(SECTOR, 0);
  const joliet = v.type === 2;
  const text = (s: string, len: number) => (joliet ? ucs2Field(s, len) : ascii(s, len));
  b[0] = v.type;
  b.write('CD001', 1, 'ascii');
  b[6] = 1;
  text('LINUX', 32).copy(b, 8);
  text(v.volumeId, 32).copy(b, 40);
  both32(v.totalSectors).copy(b, 80);
  if (joliet) b.write('%/E', 88, 'ascii'); // UCS-2 level 3
  both16(1).copy(b, 120);
  both16(1).copy(b, 124);
  both16(SECTOR).copy(b, 128);
  both32(v.pathTableSize).copy(b, 132);
  b.writeUInt32LE(v.lPathTable, 140);
  b.writeUInt32BE(v.mPathTable, 148);
  v.rootRecord.copy(b, 156);
  text('', 128).copy(b, 190); // volume set
  text('', 128).copy(b, 318); // publisher
  text('', 128).copy(b, 446); // data preparer
  text('KUBESEED', 128).copy(b, 574); // application
  text('', 37).copy(b, 702);
  text('', 37).copy(b, 739);
  text('', 37).copy(b, 776);
  volumeDate(v.date).copy(b, 813);
  volumeDate(v.date).copy(b, 830);
  volumeDate(null).copy(b, 847);
  volumeDate(null).copy(b, 864);
  b[881] = 1;
  return b;
}

function terminator(): Buffer {
  const b = Buffer.alloc(SECTOR, 0);
  b[0] = 255;
  b.write('CD001', 1, 'ascii');
  b[6] = 1;
  return b;
}

/** Writes the image. Throws on an empty or duplicate name, a `/` in a name, or a bad volume id. */
export function writeIso9660(opts: IsoOptions): Buffer {
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
  const files = opts.files.map((f) => ({ ...f, isoName: toIsoLevel1Name(f.name, used) }));
  const primaryOrder = [...files].sort((a, b) => (a.isoName < b.isoName ? -1 : a.isoName > b.isoName ? 1 : 0));
  const jolietOrder = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const DIR_MODE = 0o040555;
  const FILE_MODE = 0o100444;
  const PVD_SECTOR = 16;
  const PT_L = 19;
  const PT_M = 20;
  const JPT_L = 21;
  const JPT_M = 22;
  const ROOT = 23;

  // Sizes do not depend on extents, so measure the directories with placeholder extents first.
  const ceEntry = (extent: number) => susp('CE', 1, Buffer.concat([both32(extent), both32(0), both32(erEntry().length)]));
  const primaryRecords = (rootExt: number, rootSize: number, ceExt: number, fileExt: Map<string, number>) => [
    directoryRecord({
      extent: rootExt,
      size: rootSize,
      dir: true,
      id: Buffer.from([0]),
      date: rdate,
      systemUse: Buffer.concat([susp('SP', 1, Buffer.from([0xbe, 0xef, 0])), rrFlags(0x01), rrPosix(DIR_MODE, 2), ceEntry(ceExt)]),
    }),
    directoryRecord({
      extent: rootExt,
      size: rootSize,
      dir: true,
      id: Buffer.from([1]),
      date: rdate,
      systemUse: Buffer.concat([rrFlags(0x01), rrPosix(DIR_MODE, 2)]),
    }),
    ...primaryOrder.map((f) =>
      directoryRecord({
        extent: fileExt.get(f.name) ?? 0,
        size: f.content.length,
        dir: false,
        id: Buffer.from(f.isoName, 'ascii'),
        date: rdate,
        systemUse: Buffer.concat([rrFlags(0x09), rrName(f.name), rrPosix(FILE_MODE, 1)]),
      }),
    ),
  ];
  const jolietRecords = (rootExt: number, rootSize: number, fileExt: Map<string, number>) => [
    directoryRecord({ extent: rootExt, size: rootSize, dir: true, id: Buffer.from([0]), date: rdate }),
    directoryRecord({ extent: rootExt, size: rootSize, dir: true, id: Buffer.from([1]), date: rdate }),
    ...jolietOrder.map((f) =>
      directoryRecord({ extent: fileExt.get(f.name) ?? 0, size: f.content.length, dir: false, id: ucs2be(f.name), date: rdate }),
    ),
  ];

  const primarySectors = directorySectors(primaryRecords(0, 0, 0, new Map()));
  const jolietSectors = directorySectors(jolietRecords(0, 0, new Map()));
  const jroot = ROOT + primarySectors;
  const ceSector = jroot + jolietSectors;
  let next = ceSector + 1;
  const fileExt = new Map<string, number>();
  for (const f of files) {
    fileExt.set(f.name, next);
    next += Math.ceil(f.content.length / SECTOR);
  }
  const totalSectors = next;

  const primaryDir = packDirectory(primaryRecords(ROOT, primarySectors * SECTOR, ceSector, fileExt));
  const jolietDir = packDirectory(jolietRecords(jroot, jolietSectors * SECTOR, fileExt));
  const ce = Buffer.alloc(SECTOR, 0);
  erEntry().copy(ce, 0);

  const rootRecord = (extent: number, size: number) => directoryRecord({ extent, size, dir: true, id: Buffer.from([0]), date: rdate });
  const image = (opts.alloc ?? ((n: number) => Buffer.alloc(n, 0)))(totalSectors * SECTOR);
  const common = { totalSectors, pathTableSize: 10, date };
  volumeDescriptor({
    type: 1,
    volumeId: opts.volumeId,
    lPathTable: PT_L,
    mPathTable: PT_M,
    rootRecord: rootRecord(ROOT, primarySectors * SECTOR),
    ...common,
  }).copy(image, PVD_SECTOR * SECTOR);
  volumeDescriptor({
    type: 2,
    volumeId: opts.volumeId,
    lPathTable: JPT_L,
    mPathTable: JPT_M,
    rootRecord: rootRecord(jroot, jolietSectors * SECTOR),
    ...common,
  }).copy(image, (PVD_SECTOR + 1) * SECTOR);
  terminator().copy(image, (PVD_SECTOR + 2) * SECTOR);
  pathTable(ROOT, false).copy(image, PT_L * SECTOR);
  pathTable(ROOT, true).copy(image, PT_M * SECTOR);
  pathTable(jroot, false).copy(image, JPT_L * SECTOR);
  pathTable(jroot, true).copy(image, JPT_M * SECTOR);
  primaryDir.copy(image, ROOT * SECTOR);
  jolietDir.copy(image, jroot * SECTOR);
  ce.copy(image, ceSector * SECTOR);
  for (const f of files) f.content.copy(image, (fileExt.get(f.name) ?? 0) * SECTOR);
  return image;
}

/** The NoCloud seed: `user-data` and `meta-data` (both required by cloud-init), optional `network-config`. */
export function writeNoCloudSeed(seed: {
  userData: string | Buffer;
  metaData: string;
  networkConfig?: string;
  timestamp?: Date;
  alloc?: (size: number) => Buffer;
}): Buffer {
  const files: IsoFile[] = [
    { name: 'user-data', content: typeof seed.userData === 'string' ? Buffer.from(seed.userData, 'utf8') : seed.userData },
    { name: 'meta-data', content: Buffer.from(seed.metaData, 'utf8') },
  ];
  if (seed.networkConfig !== undefined) files.push({ name: 'network-config', content: Buffer.from(seed.networkConfig, 'utf8') });
  return writeIso9660({
    volumeId: 'cidata',
    files,
    ...(seed.timestamp ? { timestamp: seed.timestamp } : {}),
    ...(seed.alloc ? { alloc: seed.alloc } : {}),
  });
}
