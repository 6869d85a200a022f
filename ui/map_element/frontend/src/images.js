// The map's pictures (Python: ui/map_element/images.py). A source's images arrive as sheets (a
// PNG of equal cells and the image numbers it holds) and are kept page-wide per source, so a map
// mounted anew, another epoch or another page of the same run has them already. The courier, an
// element of its own inside a Streamlit fragment, asks Python for the images a map lacks (the
// whole source when it is small, else the points in view or under the mouse) and takes in the
// sheets it is sent, without rerunning the page.
const sources = (window.__embeddingMapImages = window.__embeddingMapImages || new Map());
const couriers = (window.__embeddingMapCouriers = window.__embeddingMapCouriers || {});
// a point table's hash -> (row id -> image number), learned from the courier's answers (a large
// source's map gets no table of image numbers)
const known = (window.__embeddingMapPointImages = window.__embeddingMapPointImages || new Map());
const ASK_AGAIN_MS = 4000; // an answer not back by then is asked for again (a rerun may drop it)
const ASK_MAX = 2000; // points in one request (Python caps it too)

// The last LOG_KEPT entries of a page-wide log (what the tests and the bench read).
const LOG_KEPT = 200;
function log(name, entry) {
  const entries = (window[name] = window[name] || []);
  entries.push(entry);
  if (entries.length > LOG_KEPT) entries.splice(0, entries.length - LOG_KEPT);
}

export function pointImages(table) {
  let found = known.get(table);
  if (!found) {
    found = new Map();
    known.set(table, found);
  }
  return found;
}

class ImageSource {
  constructor(key) {
    this.key = key;
    this.cells = new Map(); // image number -> {bitmap, x, y, w, h}
    this.whole = false; // every image is here
    this.error = null; // why the images cannot be had, once Python said so
    this.listeners = new Set();
  }

  failed(error) {
    this.error = error;
    this.listeners.forEach((f) => f());
  }

  has(image) { return this.cells.has(image); }

  get(image) { return this.cells.get(image); }

  add(bitmap, sheet) {
    const { columns, width: w, height: h } = sheet;
    const numbers = sheet.images;
    const count = numbers ? numbers.length : sheet.count;
    for (let k = 0; k < count; k += 1) {
      const image = numbers ? numbers[k] : k;
      this.cells.set(image, { bitmap, x: (k % columns) * w, y: Math.floor(k / columns) * h, w, h });
    }
    if (!numbers) this.whole = true;
    if (sheet.ids) {
      const points = pointImages(sheet.table);
      sheet.ids.forEach((id, k) => points.set(id, sheet.numbers[k]));
    }
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

// Ask the courier of ``scope`` for the images of these points (row ids of the point table
// ``table``) that are neither here nor on the way.
export function askImages(scope, table, ids) {
  const courier = couriers[scope];
  if (courier) courier.ask(table, ids);
}

class Courier {
  constructor() {
    this.seen = new Set();
    this.asked = new Map(); // "table:id" -> when it was asked for
    this.queue = new Map(); // table -> Set of row ids
    this.timer = null;
    this.args = null; // null while its element is not on the page (a request waits for it)
  }

  update(args) {
    const data = args.data || {};
    const spec = data.spec || {};
    this.args = args;
    this.scope = spec.scope;
    this.whole = !!spec.whole;
    this.source = imageSource(spec.source);
    if (spec.error && !this.source.error) this.source.failed(spec.error); // asked for no more
    const sheet = spec.sheet;
    if (sheet && !this.seen.has(sheet.name)) {
      const table = data[`t_${sheet.name}`];
      if (table && table.getChild) {
        this.seen.add(sheet.name);
        if (!sheet.images) this.wholeAt = performance.now();
        (sheet.ids || []).forEach((id) => this.asked.delete(`${sheet.table}:${id}`));
        this.take(this.source, table.getChild('png').get(0), { ...sheet, count: spec.count });
      }
    }
    // a small source comes whole with the page; ask for it only if it did not (or got lost)
    if (this.whole && !this.source.whole) this.askWhole();
    if (this.queue.size) this.flushSoon();
  }

  async take(source, bytes, sheet) {
    const arrived = performance.now();
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    source.add(bitmap, sheet);
    // for bench/app_speed.py: each sheet's size and when it came
    log('__embeddingMapSheets',
      { bytes: bytes.length, cells: sheet.images ? sheet.images.length : sheet.count, arrived, decoded: performance.now() });
  }

  askWhole() {
    const now = performance.now();
    if (now - this.wholeAt < ASK_AGAIN_MS || !this.args) return;
    this.wholeAt = now;
    this.send({ all: true });
  }

  ask(table, ids) {
    if (!this.source || this.source.error) return;
    if (this.whole) {
      if (!this.source.whole) this.askWhole();
      return;
    }
    const now = performance.now();
    for (const id of ids) {
      const key = `${table}:${id}`;
      const at = this.asked.get(key);
      if (at !== undefined && now - at < ASK_AGAIN_MS) continue;
      this.asked.set(key, now);
      if (!this.queue.has(table)) this.queue.set(table, new Set());
      this.queue.get(table).add(id);
    }
    if (this.queue.size) this.flushSoon();
  }

  flushSoon() {
    if (this.timer || !this.args) return;
    // gather what a burst of paints asks for (every panel, the hover) into one request
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.args) return;
      const [table, ids] = this.queue.entries().next().value;
      const chosen = Array.from(ids).slice(0, ASK_MAX);
      chosen.forEach((id) => ids.delete(id));
      if (!ids.size) this.queue.delete(table);
      this.send({ table, ids: chosen });
      if (this.queue.size) this.flushSoon();
    }, 30);
  }

  send(request) {
    // for the tests and bench/app_speed.py: every request, as sent
    log('__embeddingMapImageRequests',
      { scope: this.scope, all: !!request.all, count: (request.ids || []).length, at: performance.now() });
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
