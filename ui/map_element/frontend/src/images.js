// The map's pictures (Python: ui/map_element/images.py). A source's images arrive as sheets (a
// PNG of equal cells and the image numbers it holds) and are kept page-wide per source, so a map
// mounted anew, another epoch or another page of the same run has them already. The courier, an
// element of its own inside a Streamlit fragment, asks Python for the images a map lacks (the
// whole source when it is small, else the points in view or under the mouse) and takes in the
// sheets it is sent, without rerunning the page.
const sources = (window.__embeddingMapImages = window.__embeddingMapImages || new Map());
const couriers = (window.__embeddingMapCouriers = window.__embeddingMapCouriers || {});
const ASK_AGAIN_MS = 4000; // an answer not back by then is asked for again (a rerun may drop it)
const ASK_MAX = 2000; // images in one request (Python caps it too)

class ImageSource {
  constructor(key) {
    this.key = key;
    this.cells = new Map(); // image number -> {bitmap, x, y, w, h}
    this.asked = new Map(); // image number -> when it was asked for
    this.whole = false; // every image is here
    this.listeners = new Set();
  }

  has(image) { return this.cells.has(image); }

  get(image) { return this.cells.get(image); }

  // The numbers among ``images`` neither here nor asked for lately (and marks them asked).
  lacking(images) {
    const now = performance.now();
    const out = [];
    for (const image of images) {
      if (image < 0 || this.cells.has(image)) continue;
      const at = this.asked.get(image);
      if (at !== undefined && now - at < ASK_AGAIN_MS) continue;
      this.asked.set(image, now);
      out.push(image);
    }
    return out;
  }

  add(bitmap, sheet) {
    const { columns, width: w, height: h } = sheet;
    const numbers = sheet.images;
    const count = numbers ? numbers.length : sheet.count;
    for (let k = 0; k < count; k += 1) {
      const image = numbers ? numbers[k] : k;
      this.cells.set(image, { bitmap, x: (k % columns) * w, y: Math.floor(k / columns) * h, w, h });
      this.asked.delete(image);
    }
    if (!numbers) this.whole = true;
    this.listeners.forEach((f) => f());
  }
}

export function imageSource(key) {
  let source = sources.get(key);
  if (!source) {
    source = new ImageSource(key);
    sources.set(key, source);
  }
  return source;
}

// Ask the courier of ``scope`` for these images of its source (those not here or on the way).
export function askImages(scope, images) {
  const courier = couriers[scope];
  if (courier) courier.ask(images);
}

class Courier {
  constructor() {
    this.seen = new Set();
    this.queue = new Set();
    this.timer = null;
    this.args = null; // null while its element is not on the page (a request waits for it)
  }

  update(args) {
    const data = args.data || {};
    const spec = data.spec || {};
    const now = performance.now();
    this.args = args;
    this.scope = spec.scope;
    this.source = imageSource(spec.source);
    const sheet = spec.sheet;
    if (sheet && !this.seen.has(sheet.name)) {
      const table = data[`t_${sheet.name}`];
      if (table && table.getChild) {
        this.seen.add(sheet.name);
        if (!sheet.images) this.wholeAt = now;
        this.take(this.source, table.getChild('png').get(0), { ...sheet, count: spec.count });
      }
    }
    // a small source comes whole with the page; ask for it only if it did not (or got lost)
    if (spec.whole && !this.source.whole && !(now - this.wholeAt < ASK_AGAIN_MS)) {
      this.wholeAt = now;
      this.send({ all: true });
    }
    if (this.queue.size) this.ask([]);
  }

  async take(source, bytes, sheet) {
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    source.add(bitmap, sheet);
  }

  ask(images) {
    if (!this.source) return;
    for (const image of this.source.lacking(images)) this.queue.add(image);
    if (!this.queue.size || this.timer || !this.args) return;
    // gather what a burst of paints asks for (every panel, the hover) into one request
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.args) return;
      const images = Array.from(this.queue).slice(0, ASK_MAX);
      images.forEach((i) => this.queue.delete(i));
      this.send({ images });
      if (this.queue.size) this.ask([]);
    }, 30);
  }

  send(request) {
    // for the tests and bench/app_speed.py: every request, as sent
    (window.__embeddingMapImageRequests = window.__embeddingMapImageRequests || []).push(
      { scope: this.scope, all: !!request.all, count: (request.images || []).length, at: Date.now() });
    this.args.setTriggerValue('want', { ...request, source: this.source.key, at: Date.now() });
  }
}

export function courier(args) {
  const scope = ((args.data || {}).spec || {}).scope;
  if (!scope) return undefined;
  const found = (couriers[scope] = couriers[scope] || new Courier());
  found.update(args);
  return () => { if (found.args === args) found.args = null; };
}
