// The embedding map element (Streamlit Components v2). Python (ui/map_element) sends a small
// JSON spec each rerun and each binary table (Arrow, by content hash) only once; this keeps the
// tables in a page-wide store, draws one regl-scatterplot panel per split or run, and sends
// selections back as row ids (ranges or a bitmask, see ids.js).
import { decodeIds, encodeIds } from './ids.js';
import { askImages, imageSource, pointImages } from './images.js';
import { Panel, webglMissing } from './panel.js';

export { courier } from './images.js';

const store = (window.__embeddingMapStore = window.__embeddingMapStore || new Map());
const maps = (window.__embeddingMaps = window.__embeddingMaps || {});
const instances = new WeakMap();

function columnsOf(table) {
  const out = {};
  for (const field of table.schema.fields) {
    if (field.name.startsWith('__')) continue;
    out[field.name] = table.getChild(field.name).toArray();
  }
  return out;
}

class EmbeddingMap {
  constructor(root, args) {
    this.root = root;
    this.args = args;
    this.panels = [];
    this.view = null;
    this.mode = 'lasso';
    this.linked = true;
    this.dim = 0.15;
    this.overlays = [];
    this.mask = new Uint8Array(0);
    this.selectedCount = 0;
    this.onImages = () => {
      this.panels.forEach((p) => p.schedule());
      if (!this.hoverPanel || this.hovered === undefined || this.showImage(this.hovered)) return;
      if (this.images && this.images.error) {
        this.tipText.textContent = `${this.tipLabel(this.hovered)} · no image: the run's images cannot be read`;
      }
    };
    this.el = document.createElement('div');
    this.el.className = 'emap';
    this.el.innerHTML = `
      <div class="emap-head"><div class="emap-heading"></div>
        <div class="emap-tools">
          <span class="emap-modes">
            <button data-mode="lasso" title="Drag a lasso around points">Lasso</button>
            <button data-mode="box" title="Drag a box around points">Box</button>
            <button data-mode="pan" title="Drag to pan (the wheel zooms in every mode)">Pan</button>
          </span>
          <button class="emap-reset" title="Show every point">Reset zoom</button>
          <label title="Zoom and pan every panel together"><input type="checkbox" class="emap-link" checked> Link zoom</label>
        </div></div>
      <div class="emap-replay"></div>
      <div class="emap-panels"></div>
      <div class="emap-legend"></div>`;
    root.appendChild(this.el);
    this.heading = this.el.querySelector('.emap-heading');
    this.grid = this.el.querySelector('.emap-panels');
    this.legendEl = this.el.querySelector('.emap-legend');
    this.replayEl = this.el.querySelector('.emap-replay');
    this.el.querySelectorAll('[data-mode]').forEach((b) => b.addEventListener('click', () => this.setMode(b.dataset.mode)));
    this.el.querySelector('.emap-reset').addEventListener('click', () => this.resetView());
    this.el.querySelector('.emap-link').addEventListener('change', (e) => { this.linked = e.target.checked; });
    this.el.addEventListener('mousemove', (e) => { this.mouse = [e.clientX, e.clientY]; this.movedAt = e.timeStamp; this.buttons = e.buttons; });
    this.el.addEventListener('mouseleave', () => this.unhover());
    this.tip = document.createElement('div');
    this.tip.className = 'emap-tip';
    this.tipImage = document.createElement('canvas');
    this.tipImage.setAttribute('data-testid', 'embedding-hover-image');
    this.tipText = document.createElement('div');
    this.tip.append(this.tipImage, this.tipText);
    document.body.appendChild(this.tip);
  }

  // ---------------------------------------------------------------- Python's spec
  update(args) {
    this.args = args;
    const data = args.data || {};
    const spec = data.spec || {};
    for (const [name, table] of Object.entries(data)) {
      if (name.startsWith('t_') && table && table.schema && !store.has(name.slice(2))) store.set(name.slice(2), columnsOf(table));
    }
    const wanted = [spec.points, spec.positions, ...Object.values(spec.extras || {}),
      ...((spec.replay || {}).hashes || [])].filter(Boolean);
    const missing = wanted.filter((h) => !store.has(h));
    if (missing.length) {
      args.setTriggerValue('missing', missing);
      return;
    }
    const before = this.spec || {};
    this.spec = spec;
    maps[spec.scope] = this;
    this.el.dataset.scope = spec.scope;
    this.el.style.setProperty('--emap-height', `${spec.height || 540}px`);
    this.heading.textContent = spec.title || '';
    this.table = store.get(spec.points);
    this.extras = Object.fromEntries(Object.entries(spec.extras || {}).map(([k, h]) => [k, store.get(h)[k]]));
    this.n = this.table.x.length;
    this.setBounds(spec.bounds);
    this.useImages(spec.images);
    const rebuild = !this.panels.length || this.panels.length !== spec.panels.length || before.layout !== spec.layout;
    if (rebuild) this.buildPanels();
    this.panels.forEach((p, i) => {
      p.title.textContent = spec.panels[i].title;
      p.empty.textContent = spec.panels[i].empty || 'No points here.';
    });
    this.mask = decodeIds(spec.selected, this.n);
    this.selectedCount = spec.selected ? spec.selected.count : 0;
    this.overlays = spec.overlays || [];
    this.paintLegend();
    this.buildReplay(before);
    // the same points at new places (a live run's newest epoch): they glide there
    const moved = before.points === spec.points && (before.positions || before.points) !== (spec.positions || spec.points)
      && before.layout === spec.layout;
    this.drawAll({ transition: moved && spec.animate !== false });
    if (rebuild || before.bounds_key !== spec.bounds_key) this.resetView();
    this.el.dataset.ready = 'true';
    this.el.dataset.selected = String(this.selectedCount);
  }

  setBounds(b) {
    const [x0, x1, y0, y1] = b && b.length === 4 ? b : [-1, 1, -1, 1];
    const span = Math.max(x1 - x0, y1 - y0, 1e-9);
    this.cx = (x0 + x1) / 2;
    this.cy = (y0 + y1) / 2;
    this.scale = 1.9 / span;
  }

  normOf(p) {
    // A panel's own axes (Compare's runs need not share a scale), else the map's.
    const b = this.spec.panels[p] && this.spec.panels[p].bounds;
    if (!b) return { cx: this.cx, cy: this.cy, scale: this.scale };
    return { cx: (b[0] + b[1]) / 2, cy: (b[2] + b[3]) / 2, scale: 1.9 / Math.max(b[1] - b[0], b[3] - b[2], 1e-9) };
  }

  norm(x, y, p = 0) {
    const n = this.normOf(p);
    return [(x - n.cx) * n.scale, (y - n.cy) * n.scale];
  }

  denorm(px, py, p = 0) {
    const n = this.normOf(p);
    return [px / n.scale + n.cx, py / n.scale + n.cy];
  }

  buildPanels() {
    this.panels.forEach((p) => p.destroy());
    this.grid.innerHTML = '';
    this.grid.style.gridTemplateColumns = `repeat(${Math.max(1, this.spec.panels.length)}, minmax(0, 1fr))`;
    this.el.classList.toggle('emap-single', this.spec.panels.length === 1);
    this.panels = this.spec.panels.map((_, i) => new Panel(this, i, this.grid));
    this.panels.forEach((p) => p.setMode(this.mode));
    this.setMode(this.mode);
  }

  // ---------------------------------------------------------------- points and colours
  positions() {
    const r = this.spec.replay;
    if (r && this.epochIndex !== undefined) return store.get(r.hashes[this.epochIndex]);
    return this.spec.positions ? store.get(this.spec.positions) : this.table;
  }

  colourIndex() {
    const { by } = this.spec.colour || {};
    const t = this.table;
    if (by === 'split') return t.split;
    if (by === 'shift') {
      const order = new Map((this.spec.shifts || []).map((s, i) => [s, i]));
      return Uint16Array.from(t.shift, (s) => order.get(s) ?? 0);
    }
    if (by === 'correct' && this.extras.correct) return this.extras.correct;
    if (by === 'cluster' && this.extras.cluster) return this.extras.cluster;
    return t.label;
  }

  keep(id) {
    const f = this.spec.filter || {};
    const t = this.table;
    if (f.classes && f.classes.length && !f.classes.includes(t.label[id])) return false;
    if (f.shifts && f.shifts.length && !f.shifts.includes(t.shift[id])) return false;
    if (f.knn && f.knn !== 'all' && this.extras.correct) {
      const c = this.extras.correct[id];
      if (c !== 2 && (c === 1) !== (f.knn === 'right')) return false;
    }
    return true;
  }

  drawAll({ transition = false } = {}) {
    const pos = this.positions();
    const z = this.colourIndex();
    this.z = z;
    const palette = (this.spec.colour || {}).palette || ['#1f77b4'];
    const anySelected = this.selectedCount > 0;
    this.panels.forEach((panel, p) => {
      const splits = new Set(this.spec.panels[p].splits);
      const part = this.spec.panels[p].range; // [first id, last id + 1] of a run's part (Compare)
      const ids = [];
      const lo = part ? part[0] : 0, hi = part ? part[1] : this.n;
      for (let id = lo; id < hi; id += 1) {
        if (splits.has(this.table.split[id]) && Number.isFinite(pos.x[id]) && this.keep(id)) ids.push(id);
      }
      const n = ids.length;
      const x = new Float32Array(n), y = new Float32Array(n), zz = new Float32Array(n), w = new Float32Array(n);
      for (let k = 0; k < n; k += 1) {
        const id = ids[k];
        [x[k], y[k]] = this.norm(pos.x[id], pos.y[id], p);
        zz[k] = Math.min(z[id], palette.length - 1);
        w[k] = !anySelected || this.mask[id] ? 1 : 0;
      }
      panel.sp.set({ pointColor: palette.length > 1 ? palette : [palette[0], palette[0]], opacity: [this.dim, 1] });
      panel.setPointSize(this.n);
      panel.draw(Int32Array.from(ids), x, y, zz, w, { transition, duration: this.spec.duration || 600 });
    });
  }

  // ---------------------------------------------------------------- what the panels ask
  select(ids) {
    this.args.setTriggerValue('selection', { ...encodeIds(ids, this.n), n: this.n, table: this.spec.points, at: Date.now() });
    window.__embeddingMapLastSelection = { scope: this.spec.scope, count: ids.length, at: Date.now() };
  }

  cleared() {
    const now = Date.now();
    if (this.lastClear && now - this.lastClear < 800) return;
    this.lastClear = now;
    this.args.setTriggerValue('cleared', now);
  }

  viewChanged(source, view) {
    this.view = view;
    if (!this.linked) return;
    this.panels.forEach((p) => { if (p !== source) p.setView(view); });
  }

  resetView() {
    this.panels.forEach((p) => p.sp.zoomToOrigin({ transition: false }));
  }

  setMode(mode) {
    this.mode = mode;
    this.panels.forEach((p) => p.setMode(mode));
    this.el.querySelectorAll('[data-mode]').forEach((b) => b.classList.toggle('emap-on', b.dataset.mode === mode));
  }

  anySelected() { return this.selectedCount > 0; }

  isSelected(id) { return this.mask[id] === 1; }

  hasShifts() { return (this.spec.shifts || []).some((s) => s !== 0); }

  shiftOf(id) { return this.table.shift[id]; }

  shiftScale(shift) {
    const same = (this.spec.shifts || []).filter((s) => Math.sign(s) === Math.sign(shift)).map(Math.abs).sort((a, b) => a - b);
    return 1.3 + 0.4 * Math.max(0, same.indexOf(Math.abs(shift)));
  }

  colourOf(id) {
    const palette = (this.spec.colour || {}).palette || ['#1f77b4'];
    return palette[Math.min(this.z[id], palette.length - 1)] || '#7f7f7f';
  }

  // ---------------------------------------------------------------- images
  useImages(images) {
    const source = images ? imageSource(images.source) : null;
    if (source === this.images) return;
    if (this.images) this.images.listeners.delete(this.onImages);
    this.images = source;
    if (source) source.listeners.add(this.onImages);
  }

  // Whether images can be shown: all of them here (a small source), or asked for as needed.
  imagesReady() {
    const spec = this.spec.images;
    return !!(this.images && (!spec.whole || (this.extras.image && this.images.whole)));
  }

  // A point's image number: from the table of them (a small source), else as the courier told it.
  imageOf(id) {
    if (this.extras.image) return this.extras.image[id];
    const image = pointImages(this.spec.points).get(id);
    return image === undefined ? -1 : image;
  }

  // Of these point ids, ask for the images not here yet.
  askFor(ids) {
    if (!this.images) return;
    const lacking = [];
    for (const id of ids) {
      const image = this.imageOf(id);
      if (image < 0 ? !this.extras.image : !this.images.has(image)) lacking.push(id);
    }
    if (lacking.length) askImages(this.spec.images.courier, this.spec.points, lacking);
  }

  // Draw the image of point ``id`` in the square at (x, y); false when it is not here (yet).
  drawImage(ctx, id, x, y, side) {
    const cell = this.images ? this.images.get(this.imageOf(id)) : undefined;
    if (!cell) return false;
    ctx.drawImage(cell.bitmap, cell.x, cell.y, cell.w, cell.h, x, y, side, side);
    return true;
  }

  hover(panel, index) {
    const id = panel.ids[index];
    if (id === undefined) return;
    if (this.buttons) { // a lasso, box or pan being dragged: no tip, and no images asked for on the way
      this.unhover();
      return;
    }
    this.hoverPanel = panel;
    this.hovered = id;
    this.hoverAsked = performance.now();
    this.tipText.textContent = this.tipLabel(id);
    if (!this.showImage(id) && this.images) {
      if (this.images.error) {
        this.tipText.textContent += " · no image: the run's images cannot be read";
      } else { // not here yet: ask for it and for the points around it, where the mouse goes next
        this.askFor([id, ...panel.near(index, 120)]);
        this.tipText.textContent += ' · image coming…';
      }
    }
    const [mx, my] = this.mouse || [0, 0];
    const w = this.tip.offsetWidth || 130, h = this.tip.offsetHeight || 140;
    let x = mx - w - 16, y = my - h - 16;
    if (x < 4) x = mx + 16;
    if (y < 4) y = my + 16;
    this.tip.style.left = `${x}px`;
    this.tip.style.top = `${y}px`;
    this.tip.style.display = 'block';
  }

  // "class · split row N · shift": the row once the point's image number is known.
  tipLabel(id) {
    const panel = this.hoverPanel ? this.spec.panels[this.hoverPanel.index] : null;
    const names = (panel && panel.class_names) || this.spec.class_names || [];
    const split = this.table.split[id];
    const shift = this.table.shift[id];
    const image = this.images ? this.imageOf(id) : -1;
    const offset = this.spec.images && this.spec.images.offsets ? this.spec.images.offsets[String(split)] : undefined;
    const row = image >= 0 && offset !== undefined ? ` row ${image - offset}` : '';
    return `${names[this.table.label[id]] ?? this.table.label[id]} · ${(this.spec.split_names || [])[split] || ''}${row}`
      + (shift ? ` · ${shift > 0 ? '+' : ''}${shift}px` : '');
  }

  // The hovered point's image in the tip, if it is here; true when shown.
  showImage(id) {
    const cell = this.images ? this.images.get(this.imageOf(id)) : undefined;
    if (!cell) {
      this.tipImage.style.display = 'none';
      return false;
    }
    const s = Math.max(2, Math.floor(112 / Math.max(cell.w, 1)));
    this.tipImage.width = cell.w * s;
    this.tipImage.height = cell.h * s;
    const ctx = this.tipImage.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    this.drawImage(ctx, id, 0, 0, cell.w * s);
    this.tipImage.style.display = 'block';
    this.tipImage.dataset.id = String(id);
    this.tipText.textContent = this.tipLabel(id);
    // for bench/map_speed.py: from the mouse's move to the image in place, in this page's clock
    this.tip.dataset.latency = String(performance.now() - (this.movedAt ?? this.hoverAsked));
    return true;
  }

  unhover() {
    this.hoverPanel = null;
    this.hovered = undefined;
    this.tip.style.display = 'none';
  }

  // ---------------------------------------------------------------- legend and replay
  paintLegend() {
    const items = this.spec.legend || [];
    this.legendEl.innerHTML = '';
    for (const item of items) {
      const span = document.createElement('span');
      span.className = 'emap-key';
      const sym = document.createElement('i');
      sym.className = `emap-sym emap-${item.symbol || 'circle'}`;
      sym.style.setProperty('--c', item.color);
      span.append(sym, document.createTextNode(item.name));
      this.legendEl.appendChild(span);
    }
  }

  buildReplay(before) {
    const r = this.spec.replay;
    if (!r) { this.replayEl.innerHTML = ''; this.epochIndex = undefined; return; }
    if (before.replay && before.replay.hashes.join() === r.hashes.join()) return;
    this.epochIndex = 0;
    this.replayEl.innerHTML = `<button class="emap-play">▶ Play</button>
      <button class="emap-next" title="Move the points to the next epoch">Next epoch ▸</button>
      <input type="range" class="emap-slider" min="0" max="${r.epochs.length - 1}" value="0" step="1">
      <span class="emap-epoch"></span>`;
    const slider = this.replayEl.querySelector('.emap-slider');
    slider.addEventListener('input', () => this.goTo(Number(slider.value), true));
    this.replayEl.querySelector('.emap-next').addEventListener('click', () => this.goTo(this.epochIndex + 1, true));
    this.replayEl.querySelector('.emap-play').addEventListener('click', () => this.play());
    this.showEpoch();
  }

  showEpoch() {
    const r = this.spec.replay;
    this.replayEl.querySelector('.emap-slider').value = String(this.epochIndex);
    this.replayEl.querySelector('.emap-epoch').textContent = `epoch ${r.epochs[this.epochIndex]}`;
    this.el.dataset.epoch = String(r.epochs[this.epochIndex]);
  }

  goTo(index, transition) {
    const r = this.spec.replay;
    if (index < 0 || index >= r.epochs.length) return Promise.resolve();
    this.epochIndex = index;
    this.showEpoch();
    this.drawAll({ transition });
    return new Promise((done) => setTimeout(done, (this.spec.duration || 600) + 50));
  }

  async play() {
    const r = this.spec.replay;
    if (this.playing) { this.playing = false; return; }
    this.playing = true;
    const button = this.replayEl.querySelector('.emap-play');
    button.textContent = '❚❚ Pause';
    if (this.epochIndex >= r.epochs.length - 1) await this.goTo(0, false);
    while (this.playing && this.epochIndex < r.epochs.length - 1) await this.goTo(this.epochIndex + 1, true);
    this.playing = false;
    button.textContent = '▶ Play';
  }

  destroy() {
    this.useImages(null);
    this.panels.forEach((p) => p.destroy());
    this.tip.remove();
    this.el.remove();
  }
}

export default function (args) {
  const root = args.parentElement;
  if (webglMissing()) {
    root.innerHTML = '<div class="emap-nowebgl" data-testid="embedding-map-no-webgl">This map needs WebGL, '
      + 'and this browser has it turned off. Turn on hardware acceleration (or WebGL) in the browser\'s settings, '
      + 'or open the app in another browser; the tabs below the map work without it.</div>';
    return undefined;
  }
  let map = instances.get(root);
  if (!map) {
    map = new EmbeddingMap(root, args);
    instances.set(root, map);
  }
  const text = JSON.stringify((args.data || {}).spec || {});
  if (text !== map.lastSpec || Object.keys(args.data || {}).some((k) => k.startsWith('t_'))) {
    map.lastSpec = text;
    map.update(args);
  } else {
    map.args = args;
  }
  return () => { instances.delete(root); map.destroy(); };
}
