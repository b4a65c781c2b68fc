import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import { imageToTensor, loadPreprocessBeside, savePreprocessBeside, type ImagePreprocess } from './image.js';
import { tempDir } from './test-fixtures.js';

/** A 4×2 (w×h) RGB image: left half (x<2) red 200, right half green 100. */
async function halfImage(): Promise<string> {
  const px = new Uint8Array(4 * 2 * 3);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) px.set(x < 2 ? [200, 0, 0] : [0, 100, 0], (y * 4 + x) * 3);
  const f = join(tempDir(), 'half.png');
  await sharp(px, { raw: { width: 4, height: 2, channels: 3 } }).png().toFile(f);
  return f;
}

describe('image preprocessing', () => {
  it('normalizes (v/255 − 0.5)/0.5 in NCHW RGB, and NHWC BGR', async () => {
    const f = await halfImage();
    const { tensor } = await imageToTensor(f, { normalize: 'symmetric' });
    expect(tensor.dims).toEqual([1, 3, 2, 4]);
    const v = tensor.toFloat32();
    expect(v[0]).toBeCloseTo((200 / 255 - 0.5) / 0.5, 6); // R at (0,0)
    expect(v[8 + 3]).toBeCloseTo((100 / 255 - 0.5) / 0.5, 6); // G at (0,3)
    expect(v[16]).toBeCloseTo(-1, 6); // B
    const nhwc = (await imageToTensor(f, { layout: 'nhwc', color: 'bgr', normalize: 'none' })).tensor;
    expect(nhwc.dims).toEqual([1, 2, 4, 3]);
    expect(Array.from(nhwc.toFloat32().subarray(0, 3))).toEqual([0, 0, 200]);
  });

  it('applies mean/std per channel and can emit uint8', async () => {
    const f = await halfImage();
    const { tensor } = await imageToTensor(f, { normalize: 'imagenet' });
    expect(tensor.toFloat32()[0]).toBeCloseTo((200 / 255 - 0.485) / 0.229, 5);
    expect(tensor.toFloat32()[8 + 3]).toBeCloseTo((100 / 255 - 0.456) / 0.224, 5);
    const u8 = (await imageToTensor(f, { dtype: 'uint8', color: 'gray' })).tensor;
    expect(u8.dtype).toBe(DataType.UINT8);
    expect(u8.dims).toEqual([1, 1, 2, 4]);
  });

  it('letterbox, fit-height and center-crop place the content and report the transform', async () => {
    const f = await halfImage();
    const lb = await imageToTensor(f, { size: [8, 8], resize: 'letterbox', normalize: 'none', padValue: -1 });
    // 4×2 scaled ×2 to 8×4, centred vertically: rows 0-1 and 6-7 are padding
    const v = lb.tensor.toFloat32();
    expect(v[0]).toBe(-1);
    expect(v[2 * 8]).toBe(200);
    expect(v[6 * 8]).toBe(-1);
    expect(lb.transform).toMatchObject({ scaleX: 2, scaleY: 2, offsetX: 0, offsetY: 2 });
    const fh = await imageToTensor(f, { size: [4, 16], resize: 'fit-height', normalize: 'none' });
    // height 4 → width 8 of 16; the rest is padding (0)
    expect(fh.transform).toMatchObject({ scaleX: 2, scaleY: 2, offsetX: 0 });
    expect(fh.tensor.toFloat32()[7]).toBe(0); // R of a right-half (green) pixel
    expect(fh.tensor.toFloat32()[16 * 4 + 7]).toBe(100); // G there
    expect(fh.tensor.toFloat32()[16 * 4 + 8]).toBe(0); // padding
    const cc = await imageToTensor(f, { size: [2, 2], resize: 'center-crop', resizeShorter: 2, normalize: 'none' });
    // shorter side 2 → 4×2, centre 2×2 crop holds x = 1..2: red then green
    expect(Array.from(cc.tensor.toFloat32().subarray(0, 2))).toEqual([200, 0]);
    expect(cc.transform.offsetX).toBe(-1);
  });

  it('saves preprocessing beside a model and reads it back; refuses a bad one', () => {
    const model = join(tempDir(), 'net.onnx');
    const file = savePreprocessBeside(model, { size: [48, 320], resize: 'fit-height', normalize: 'symmetric' });
    expect(file).toBe(model.replace(/\.onnx$/, '.preprocess.json'));
    expect(loadPreprocessBeside(model)).toEqual({ size: [48, 320], resize: 'fit-height', normalize: 'symmetric' });
    expect(loadPreprocessBeside(join(tempDir(), 'other.onnx'))).toBeUndefined();
    expect(() => savePreprocessBeside(model, { resize: 'squash' } as unknown as ImagePreprocess)).toThrow(/resize must be one of/);
  });
});
