/**
 * Just enough of an ELF64 little-endian reader to find what a binary needs at run time: its program
 * interpreter (PT_INTERP) and, from its dynamic section, DT_NEEDED, DT_RPATH and DT_RUNPATH. Reads
 * only the headers and the dynamic string table, never whole files (some libraries are 100+ MB).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { readAt } from '../util/read-at.js';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELF_HEADER_SIZE = 64;
const PHDR_SIZE = 56;
const DYN_SIZE = 16;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;

const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

export interface ElfDynamicInfo {
  machine: number;
  interpreter?: string;
  needed: string[];
  rpath: string[];
  runpath: string[];
}

interface ProgramHeader {
  type: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
}


/** Machine of an ELF64 LE file, or undefined if it is something else (script, 32-bit library, data). */
export async function elf64Machine(path: string): Promise<number | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const h = await readAt(fh, 0, ELF_HEADER_SIZE);
    return isElf64Le(h) ? h.readUInt16LE(0x12) : undefined;
  } finally {
    await fh.close();
  }
}

function isElf64Le(h: Buffer): boolean {
  return h.length >= ELF_HEADER_SIZE && h.subarray(0, 4).equals(ELF_MAGIC) && h[4] === ELFCLASS64 && h[5] === ELFDATA2LSB;
}

function cString(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('utf8', at, end < 0 ? buf.length : end);
}

/** Virtual address -> file offset, through the PT_LOAD segment that maps it. */
function fileOffsetOf(loads: ProgramHeader[], vaddr: bigint): number | undefined {
  const seg = loads.find((p) => vaddr >= p.vaddr && vaddr < p.vaddr + BigInt(p.filesz));
  return seg ? seg.offset + Number(vaddr - seg.vaddr) : undefined;
}

export async function readElfDynamicInfo(path: string): Promise<ElfDynamicInfo> {
  const bad = (why: string) => new InputError(path, `${path} is not a usable binary: ${why}.`, 'Name an x86-64 ELF executable or library (scripts need their interpreter listed instead).');
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new InputError(path, `Cannot open ${path}: ${(e as Error).message}.`, 'Check the path inside the root.');
  }
  try {
    const h = await readAt(fh, 0, ELF_HEADER_SIZE);
    if (!isElf64Le(h)) throw bad('not a 64-bit little-endian ELF file');
    const phoff = Number(h.readBigUInt64LE(0x20));
    const phnum = h.readUInt16LE(0x38);
    const table = await readAt(fh, phoff, phnum * PHDR_SIZE);
    if (table.length < phnum * PHDR_SIZE) throw bad('truncated program headers');
    const phdrs: ProgramHeader[] = Array.from({ length: phnum }, (_, i) => ({
      type: table.readUInt32LE(i * PHDR_SIZE),
      offset: Number(table.readBigUInt64LE(i * PHDR_SIZE + 8)),
      vaddr: table.readBigUInt64LE(i * PHDR_SIZE + 16),
      filesz: Number(table.readBigUInt64LE(i * PHDR_SIZE + 32)),
    }));
    const info: ElfDynamicInfo = { machine: h.readUInt16LE(0x12), needed: [], rpath: [], runpath: [] };
    const interp = phdrs.find((p) => p.type === PT_INTERP);
    if (interp) info.interpreter = cString(await readAt(fh, interp.offset, interp.filesz), 0);
    const dynamic = phdrs.find((p) => p.type === PT_DYNAMIC);
    if (!dynamic) return info;

    const dyn = await readAt(fh, dynamic.offset, dynamic.filesz);
    const entries: { tag: bigint; val: bigint }[] = [];
    for (let at = 0; at + DYN_SIZE <= dyn.length; at += DYN_SIZE) {
      const tag = dyn.readBigInt64LE(at);
      if (tag === DT_NULL) break;
      entries.push({ tag, val: dyn.readBigUInt64LE(at + 8) });
    }
    const strtabAddr = entries.find((e) => e.tag === DT_STRTAB)?.val;
    const strsz = entries.find((e) => e.tag === DT_STRSZ)?.val;
    if (strtabAddr === undefined || strsz === undefined) return info;
    const strtabOffset = fileOffsetOf(phdrs.filter((p) => p.type === PT_LOAD), strtabAddr);
    if (strtabOffset === undefined) throw bad('dynamic string table outside every loaded segment');
    const strtab = await readAt(fh, strtabOffset, Number(strsz));
    const str = (v: bigint) => cString(strtab, Number(v));
    const pathList = (v: bigint) => str(v).split(':').filter(Boolean);
    for (const e of entries) {
      if (e.tag === DT_NEEDED) info.needed.push(str(e.val));
      else if (e.tag === DT_RPATH) info.rpath.push(...pathList(e.val));
      else if (e.tag === DT_RUNPATH) info.runpath.push(...pathList(e.val));
    }
    return info;
  } finally {
    await fh.close();
  }
}
