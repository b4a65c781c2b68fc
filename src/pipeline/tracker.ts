import { assign } from './hungarian.js';
import { boxIou, type Point, type Quad, type Rect } from './geometry.js';
import type { Region } from './db.js';

/**
 * Constant-velocity Kalman filter on one coordinate: state [position, velocity]. The box filter runs four
 * of these (centre x, centre y, width, height): with block-diagonal motion and noise matrices this is the
 * same filter as SORT's joint one, without the 8×8 algebra.
 */
class Kalman1 {
  p: number;
  v = 0;
  // covariance [[a, b], [b, c]]
  private a: number;
  private b = 0;
  private c: number;

  constructor(z: number, posVar: number, velVar: number) {
    this.p = z;
    this.a = posVar;
    this.c = velVar;
  }

  predict(qPos: number, qVel: number): void {
    this.p += this.v;
    // P = F P Fᵀ + Q with F = [[1, 1], [0, 1]]
    const a = this.a + 2 * this.b + this.c + qPos;
    const b = this.b + this.c;
    const c = this.c + qVel;
    this.a = a;
    this.b = b;
    this.c = c;
  }

  update(z: number, r: number): void {
    const s = this.a + r;
    const k0 = this.a / s;
    const k1 = this.b / s;
    const y = z - this.p;
    this.p += k0 * y;
    this.v += k1 * y;
    const a = (1 - k0) * this.a;
    const b = (1 - k0) * this.b;
    const c = this.c - k1 * this.b;
    this.a = a;
    this.b = b;
    this.c = c;
  }
}

export interface TrackerOptions {
  /** Detections at or above this score are associated first and may start tracks (ByteTrack's τ_high). */
  highScore?: number;
  /** Detections between this and highScore only keep existing tracks alive (ByteTrack's low-score recovery); 1 turns it off. */
  lowScore?: number;
  /** Minimum IoU between a track's predicted box and a detection to associate them (first round). */
  iouThreshold?: number;
  /** Second round (low-score detections), as ByteTrack: stricter. */
  lowIouThreshold?: number;
  /** Detector runs a track may miss before it is dropped. */
  maxAge?: number;
  /** Detector runs a new track needs before it is reported (1: at once). */
  minHits?: number;
  /**
   * Third round for what IoU left unmatched (a young track whose velocity is not known yet, after a long
   * detector interval): centres at most this many box heights apart per frame since the last match, sizes
   * within 30%. 0 turns it off.
   */
  maxSpeed?: number;
  /** Motion noise per frame, relative to the box height (position, velocity). */
  motionNoise?: [number, number];
  /** Measurement noise, relative to the box height. */
  measurementNoise?: number;
}

export const TRACKER_DEFAULTS: Required<TrackerOptions> = {
  highScore: 0.6,
  lowScore: 0.3,
  iouThreshold: 0.3,
  lowIouThreshold: 0.5,
  maxAge: 3,
  minHits: 1,
  maxSpeed: 0.5,
  motionNoise: [1 / 20, 1 / 160],
  measurementNoise: 1 / 20,
};

/** A tracked text region; what later stages attach (text, orientation) stays with the track. */
export class Track {
  /** Detector runs in a row without a match (0: matched at the last run). */
  missed = 0;
  hits = 1;
  /** Frames since the track started. */
  age = 0;
  /** Frames since its last match. */
  sinceUpdate = 0;
  readonly kf: Kalman1[];
  /** The last matched detection's quad, relative to its bounds (so it can follow the predicted box). */
  private shape: Quad;
  score: number;
  text?: string;
  textScore?: number;
  /** The box of the read that stands (the recognition policy compares against it). */
  recognizedBox?: Rect;
  /** The frame of the last read (of the one that stands, or of a second opinion that did not win). */
  recognizedAt?: number;
  /** Reads of the box that stands (1 after a first read or a read of a changed box; more after second opinions). */
  reads?: number;
  /** How many times each text was read of the box that stands (reset with `reads`). */
  votes?: Record<string, number>;
  /** The frame since which it has waited for recognition (the scheduler runs it after MAX_WAIT frames regardless). */
  dueSince?: number;
  /** Its box touched the frame edge when it was recognised (the text may have been cut). */
  recognizedCut?: boolean;
  /** The angle classifier found the region upside down. */
  flipped?: boolean;
  /** Its box touched the frame edge when it was classified (the angle was judged on part of the text). */
  classifiedCut?: boolean;
  /** A read of its crop turned upside down failed, and the flip was undone (see `doubtFlip`). */
  flipDoubted?: boolean;
  /** Its boxes at the last frames, newest last (detections that arrive late are matched against these). */
  private readonly history: Rect[] = [];

  constructor(
    readonly id: number,
    det: Region,
    private readonly o: Required<TrackerOptions>,
  ) {
    const [cx, cy, w, h] = toCxcywh(det.box);
    const pv = (o.measurementNoise * h) ** 2 * 4;
    const vv = (o.motionNoise[1] * h * 10) ** 2;
    this.kf = [cx, cy, w, h].map((z) => new Kalman1(z, pv, vv));
    this.shape = relativeQuad(det.quad, det.box);
    this.score = det.score;
    this.history.push(this.box);
  }

  /** A track started from a detection made `lag` frames ago: its box then was the detection's. */
  startedLate(found: Rect, lag: number): this {
    this.history.length = 0;
    for (let i = 0; i < lag; i++) this.history.push(found);
    this.history.push(this.box);
    return this;
  }

  /** Its box `lag` frames ago (its first box if it is younger). */
  boxAgo(lag: number): Rect {
    const h = this.history;
    return h[Math.max(0, h.length - 1 - lag)] ?? this.box;
  }

  get box(): Rect {
    const [cx, cy, w, h] = this.kf.map((k) => k.p) as [number, number, number, number];
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
  }

  /** The last detection's quad moved and scaled onto the current box. */
  get quad(): Quad {
    const [x0, y0, x1, y1] = this.box;
    return this.shape.map(([u, v]) => [x0 + u * (x1 - x0), y0 + v * (y1 - y0)] as Point) as Quad;
  }

  get velocity(): [number, number] {
    return [this.kf[0]!.v, this.kf[1]!.v];
  }

  predict(): void {
    const h = Math.max(1, this.kf[3]!.p);
    const qp = (this.o.motionNoise[0] * h) ** 2;
    const qv = (this.o.motionNoise[1] * h) ** 2;
    for (const k of this.kf) k.predict(qp, qv);
    if (this.kf[2]!.p < 1) this.kf[2]!.p = 1;
    if (this.kf[3]!.p < 1) this.kf[3]!.p = 1;
    this.age++;
    this.sinceUpdate++;
    this.history.push(this.box);
    if (this.history.length > HISTORY) this.history.shift();
  }

  update(det: Region): void {
    const z = toCxcywh(det.box);
    this.history[this.history.length - 1] = det.box;
    const r = (this.o.measurementNoise * Math.max(1, z[3])) ** 2;
    this.kf.forEach((k, i) => k.update(z[i]!, r));
    this.shape = relativeQuad(det.quad, det.box);
    this.score = det.score;
    this.missed = 0;
    this.sinceUpdate = 0;
    this.hits++;
  }
}

/** Frames of box history a track keeps (the most a late detection may lag). */
const HISTORY = 16;

const toCxcywh = ([x0, y0, x1, y1]: Rect): [number, number, number, number] => [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0];

function relativeQuad(q: Quad, [x0, y0, x1, y1]: Rect): Quad {
  const w = Math.max(1e-9, x1 - x0);
  const h = Math.max(1e-9, y1 - y0);
  return q.map(([x, y]) => [(x - x0) / w, (y - y0) / h] as Point) as Quad;
}

/**
 * Multi-object tracker in the manner of SORT (Kalman motion model, IoU association solved as an
 * assignment problem) with ByteTrack's second association round: detections too weak to start a track
 * still keep an existing one alive (text half out of focus, partly covered). Between detector runs
 * (`step()` without detections) tracks coast on their motion model, which is what lets the detector run
 * every few frames.
 */
export class Tracker {
  readonly o: Required<TrackerOptions>;
  tracks: Track[] = [];
  private nextId = 1;
  frame = -1;

  constructor(opts: TrackerOptions = {}) {
    this.o = { ...TRACKER_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<TrackerOptions>;
  }

  /**
   * Advances one frame; `detections` undefined means no detector result arrived on this frame. `lag`: the
   * detections were made on the frame `lag` frames ago (a detector running beside the frames): they are
   * matched against the tracks' boxes of that frame, and each moves by its track's motion since then before
   * it updates the track; new tracks move by the matched tracks' median motion (the camera's pan).
   */
  step(detections?: readonly Region[], lag = 0): Track[] {
    this.frame++;
    for (const t of this.tracks) t.predict();
    if (detections) this.associate(detections, Math.min(Math.max(0, Math.round(lag)), HISTORY - 1));
    return this.active();
  }

  /** Tracks matched at the last detector run and past their probation. */
  active(): Track[] {
    return this.tracks.filter((t) => t.missed === 0 && (t.hits >= this.o.minHits || this.frame < this.o.minHits));
  }

  private associate(dets: readonly Region[], lag: number): void {
    const o = this.o;
    const high = dets.filter((d) => d.score >= o.highScore);
    const low = dets.filter((d) => d.score < o.highScore && d.score >= o.lowScore);
    const moves: [number, number][] = [];
    const remaining = match(this.tracks, high, o.iouThreshold, lag, moves);
    const unmatchedHigh = high.filter((_, j) => !remaining.usedDets.has(j));
    const second = match(remaining.tracks, low, o.lowIouThreshold, lag, moves);
    const third = o.maxSpeed > 0 ? matchByDistance(second.tracks, unmatchedHigh, o.maxSpeed, lag, moves) : { tracks: second.tracks, usedDets: new Set<number>() };
    for (const t of third.tracks) t.missed++;
    this.tracks = this.tracks.filter((t) => t.missed <= o.maxAge);
    const pan: [number, number] = lag > 0 && moves.length ? [median(moves.map((m) => m[0])), median(moves.map((m) => m[1]))] : [0, 0];
    unmatchedHigh.forEach((d, j) => {
      if (!third.usedDets.has(j)) this.tracks.push(new Track(this.nextId++, moveRegion(d, pan[0], pan[1]), o).startedLate(d.box, lag));
    });
  }
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function moveRegion(d: Region, dx: number, dy: number): Region {
  if (dx === 0 && dy === 0) return d;
  const [x0, y0, x1, y1] = d.box;
  return { ...d, box: [x0 + dx, y0 + dy, x1 + dx, y1 + dy], quad: d.quad.map(([x, y]) => [x + dx, y + dy] as Point) as Quad };
}

/**
 * Updates a track with a detection made `lag` frames ago: the detection moves by the track's own motion
 * since then (its centre shift and size change), and that motion is noted for new tracks.
 */
function updateLate(t: Track, d: Region, lag: number, moves: [number, number][]): void {
  if (lag === 0) return t.update(d);
  const [ax0, ay0, ax1, ay1] = t.boxAgo(lag);
  const [bx0, by0, bx1, by1] = t.box;
  const dx = (bx0 + bx1 - ax0 - ax1) / 2;
  const dy = (by0 + by1 - ay0 - ay1) / 2;
  moves.push([dx, dy]);
  const sx = (bx1 - bx0) / Math.max(1e-9, ax1 - ax0);
  const sy = (by1 - by0) / Math.max(1e-9, ay1 - ay0);
  const [cx, cy] = [(d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2];
  const at = ([x, y]: Point): Point => [cx + dx + (x - cx) * sx, cy + dy + (y - cy) * sy];
  const [p0, p1] = [at([d.box[0], d.box[1]]), at([d.box[2], d.box[3]])];
  t.update({ ...d, box: [p0[0], p0[1], p1[0], p1[1]], quad: d.quad.map(at) as Quad });
}

/** Associates detections with tracks (max total IoU, each pair at least `minIou`); returns tracks left over. */
function match(tracks: readonly Track[], dets: readonly Region[], minIou: number, lag = 0, moves: [number, number][] = []): { tracks: Track[]; usedDets: Set<number> } {
  const usedDets = new Set<number>();
  if (!tracks.length || !dets.length) return { tracks: [...tracks], usedDets };
  const boxes = tracks.map((t) => t.boxAgo(lag));
  const ious = boxes.map((b) => dets.map((d) => boxIou(b, d.box)));
  const rows = assign(ious.map((r) => r.map((v) => (v >= minIou ? 1 - v : 10))));
  const left: Track[] = [];
  rows.forEach((j, i) => {
    if (j >= 0 && ious[i]![j]! >= minIou) {
      updateLate(tracks[i]!, dets[j]!, lag, moves);
      usedDets.add(j);
    } else left.push(tracks[i]!);
  });
  return { tracks: left, usedDets };
}

/** Association by centre distance (gated by speed × frames since the last match) and similar size. */
function matchByDistance(tracks: readonly Track[], dets: readonly Region[], maxSpeed: number, lag = 0, moves: [number, number][] = []): { tracks: Track[]; usedDets: Set<number> } {
  const usedDets = new Set<number>();
  if (!tracks.length || !dets.length) return { tracks: [...tracks], usedDets };
  const BIG = 1e6;
  const cost = tracks.map((t) => {
    const [tx0, ty0, tx1, ty1] = t.boxAgo(lag);
    const [tw, th] = [tx1 - tx0, ty1 - ty0];
    const reach = maxSpeed * th * Math.max(1, t.sinceUpdate - lag);
    return dets.map((d) => {
      const [dx0, dy0, dx1, dy1] = d.box;
      const [dw, dh] = [dx1 - dx0, dy1 - dy0];
      const size = Math.max(dw / tw, tw / dw, dh / th, th / dh);
      const dist = Math.hypot((dx0 + dx1 - tx0 - tx1) / 2, (dy0 + dy1 - ty0 - ty1) / 2);
      return size <= 1.3 && dist <= reach ? dist / reach : BIG;
    });
  });
  const rows = assign(cost);
  const left: Track[] = [];
  rows.forEach((j, i) => {
    if (j >= 0 && cost[i]![j]! < BIG) {
      updateLate(tracks[i]!, dets[j]!, lag, moves);
      usedDets.add(j);
    } else left.push(tracks[i]!);
  });
  return { tracks: left, usedDets };
}
