import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { InputError } from '../../errors.js';
import { markInput } from '../../util/files.js';
import type { DataRecord, RecordSource } from '../types.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export const isImageFile = (name: string) => IMAGE_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));

/** Subfolders of `root` that hold images directly: the classes of an image-folder dataset. */
export function classFolders(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .filter((name) => readdirSync(join(root, name)).some(isImageFile))
    .sort();
}

/**
 * An image folder with one subfolder per class (torchvision's ImageFolder layout). Classes are the sorted
 * subfolder names unless given; the listing (file names only) is held, pixels are read per sample.
 */
export function imageFolderSource(root: string, classes?: readonly string[]): RecordSource {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new InputError(`image folder not found: ${root}`);
  const names = classes ?? classFolders(root);
  if (names.length === 0) throw new InputError(`${root}: no class subfolders with images (expected <root>/<class>/<image>)`);
  const files: string[] = [];
  const labels: number[] = [];
  names.forEach((cls, label) => {
    const dir = join(root, cls);
    if (!existsSync(dir)) throw new InputError(`${root}: class folder '${cls}' does not exist`);
    for (const f of readdirSync(dir).filter(isImageFile).sort()) {
      files.push(join(dir, f));
      labels.push(label);
      markInput(join(dir, f));
    }
  });
  const idAt = (i: number) => relative(root, files[i]!);
  const at = (i: number): DataRecord => ({ id: idAt(i), image: files[i]!, label: labels[i]!, meta: { file: files[i]! } });
  return {
    description: `image folder ${root} (${files.length} images, ${names.length} classes)`,
    classes: names,
    indexed: { length: files.length, idAt, at: async (i) => at(i) },
    async *stream() {
      for (let i = 0; i < files.length; i++) yield at(i);
    },
  };
}
