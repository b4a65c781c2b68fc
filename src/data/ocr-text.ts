import { execFileSync } from 'node:child_process';

/** Common Chinese characters (all in PaddleOCR's ppocr_keys_v1), for lines when a CJK font is installed. */
const COMMON_HANZI =
  '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴引复';

const WORDS = (
  'the of and to in is for on with as by at from that this be are was it or an have not all new more time ' +
  'price total order date name phone email address street city model number invoice receipt account payment ' +
  'open close north south east west green blue red black white water coffee market station hotel river ' +
  'Monday Friday January March October Street Road Avenue Park London Paris Berlin Tokyo Boston Sydney'
).split(' ');

export interface FontChoice {
  family: string;
  cjk: boolean;
}

/** Font families fontconfig knows on this machine (empty when fc-list is missing). */
export function installedFamilies(): string[] {
  try {
    const out = execFileSync('fc-list', [':', 'family'], { encoding: 'utf8' });
    return [...new Set(out.split('\n').flatMap((l) => l.split(',')).map((s) => s.trim()).filter(Boolean))];
  } catch {
    return [];
  }
}

/** Latin fonts to draw with (those installed among a known list) and the CJK one, if any. */
export function chooseFonts(families = installedFamilies()): { latin: string[]; cjk?: string } {
  const wanted = ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono', 'Liberation Sans', 'Liberation Serif', 'Liberation Mono', 'Liberation Sans Narrow'];
  const latin = wanted.filter((f) => families.includes(f));
  const cjk = ['WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Noto Serif CJK SC', 'AR PL UMing CN', 'Droid Sans Fallback'].find((f) => families.includes(f));
  return { latin: latin.length ? latin : ['sans-serif'], cjk };
}

/** A random text line the recogniser's alphabet covers: words, numbers, dates, prices or Chinese. */
export function randomLine(rand: () => number, alphabet: ReadonlySet<string>, withCjk: boolean): { text: string; cjk: boolean } {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const kinds = withCjk ? 6 : 4;
  const kind = int(0, kinds - 1);
  let text: string;
  switch (kind) {
    case 0: {
      const n = int(1, 3);
      text = Array.from({ length: n }, () => pick(WORDS)).join(' ');
      if (rand() < 0.3) text = text[0]!.toUpperCase() + text.slice(1);
      break;
    }
    case 1:
      text = `${int(1, 28)}/${int(1, 12)}/${int(1990, 2030)}`;
      break;
    case 2:
      // no ¥: the recogniser only knows the full-width ￥, which renders the same — a label it cannot match
      text = `${pick(['$', '€', ''])}${int(0, 9999)}.${String(int(0, 99)).padStart(2, '0')}`;
      break;
    case 3:
      text = `${pick(WORDS).toUpperCase().slice(0, 4)}-${int(100, 99999)}`;
      break;
    default: {
      const hanzi = [...COMMON_HANZI].filter((c) => alphabet.has(c));
      text = Array.from({ length: int(2, 8) }, () => pick(hanzi)).join('');
      if (kind === 5) text += String(int(1, 999));
    }
  }
  const clean = [...text].filter((c) => alphabet.has(c) || c === ' ').join('').replace(/\s+/g, ' ').trim();
  return { text: clean || '0', cjk: kind >= 4 };
}
