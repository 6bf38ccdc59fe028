/**
 * How big a stick image is, from what goes in its FAT: the one owner of these numbers, read by the
 * option checks (a --size that can never fit), the build's space checks and the image writer.
 */
export const MIB = 1 << 20;
export const PARTITION_START = MIB;
/** FAT32 with 512-byte clusters starts to be valid around 33 MiB; keep a margin. */
export const MIN_PARTITION = 64 * MIB;

/** Contents + 10% + 16 MiB for FAT tables and loader files, rounded to MiB, at least 64 MiB. */
export function partitionSizeFor(contentBytes: number): number {
  const want = contentBytes * 1.1 + 16 * MIB;
  return Math.max(MIN_PARTITION, Math.ceil(want / MIB) * MIB);
}

/**
 * The whole image: the partition table's first MiB and the partition. `updateRoomBytes`: room for a
 * second system's files (build --room-for-update, issue 16), added to the contents.
 */
export function imageSizeFor(contentBytes: number, updateRoomBytes = 0): number {
  return PARTITION_START + partitionSizeFor(contentBytes + updateRoomBytes);
}

/** No image is smaller, whatever it holds. */
export const MIN_IMAGE = imageSizeFor(0);

/**
 * The saves area (issue 15: src/stick/saves-area.ts owns its format) is MBR partition 2 after the
 * FAT, starting on a 4 MiB boundary so no erase block holds both boot files and saves.
 */
export const SAVES_AREA_ALIGN = 4 * MIB;
export const savesAreaStart = (fatEnd: number): number => Math.ceil(fatEnd / SAVES_AREA_ALIGN) * SAVES_AREA_ALIGN;
/** The whole image with a saves area of `savesBytes` after the FAT. */
export const imageSizeWithSaves = (contentBytes: number, savesBytes: number): number =>
  savesBytes > 0 ? savesAreaStart(imageSizeFor(contentBytes)) + savesBytes : imageSizeFor(contentBytes);
