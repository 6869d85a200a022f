// One panel of the map: a regl-scatterplot canvas, and a 2-D canvas over it for what WebGL does
// not draw here (lines, marks, shift triangles, thumbnails, the box being dragged).
import createScatterplot from 'regl-scatterplot';

const THUMBNAILS_AT = 300; // points in view at or under which points are drawn as their images
const ZOOMED_IN = 2; // camera scale from which points may turn into thumbnails
const TRIANGLES_AT = 20000; // shifted points in view at or under which their triangles are drawn

export function webglMissing() {
  try {
    const c = document.createElement('canvas');
    return !(c.getContext('webgl') || c.getContext('experimental-webgl'));
  } catch (e) {
    return true;
  }
}

export class Panel {
  constructor(map, index, root) {
    this.map = map;
    this.index = index;
    this.el = document.createElement('div');
    this.el.className = 'emap-panel';
    this.el.dataset.panel = String(index);
    this.title = document.createElement('div');
    this.title.className = 'emap-title';
    this.frame = document.createElement('div');
    this.frame.className = 'emap-frame';
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'emap-gl';
    this.over = document.createElement('canvas');
    this.over.className = 'emap-over';
    this.empty = document.createElement('div');
    this.empty.className = 'emap-empty';
    this.frame.append(this.canvas, this.over, this.empty);
    this.el.append(this.title, this.frame);
    root.appendChild(this.el);
    this.ids = new Int32Array(0);
    this.x = new Float32Array(0);
    this.y = new Float32Array(0);
    this.thumbnails = 0;
    this.pending = false;
    this.sp = createScatterplot({
      // above 100k points: square points, cheaper to fill in software WebGL (blending stays, for dimming)
      renderPointsAsSquares: map.n > 100000,
      canvas: this.canvas, width: 'auto', height: 'auto', backgroundColor: '#ffffff',
      pointSize: 4, opacity: [map.dim, 1], opacityBy: 'w', colorBy: 'z',
      lassoInitiator: false, deselectOnDblClick: false, deselectOnEscape: false,
      lassoMinDelay: 0, lassoMinDist: 2, // every corner of the drawn path counts
      lassoColor: '#333333', pointColorHover: '#000000', showReticle: false,
      actionKeyMap: { shift: 'lasso', alt: 'rotate', cmd: 'merge', ctrl: 'merge', meta: 'merge' },
    });
    this.sp.subscribe('select', ({ points }) => this.selected(points));
    // regl-scatterplot reads a lasso closed where it began as a click too, and selects the point
    // there: a one-point selection right after a lasso is that click, not the user's choice
    this.sp.subscribe('lassoEnd', () => { this.lassoEnded = performance.now(); });
    // hover: read the library's hovered point right after its own mousemove handler (a window
    // listener added after it runs after it), not from its 'pointover' event, which comes a
    // frame later, after the redraw: 200 ms on a busy machine with software WebGL
    this.shown = -1;
    this.onMove = () => {
      const hovered = this.sp.get('hoveredPoint');
      const now = hovered !== undefined && hovered >= 0 ? hovered : -1;
      if (now === this.shown) return;
      this.shown = now;
      if (now >= 0) map.hover(this, now);
      else if (map.hoverPanel === this) map.unhover();
    };
    window.addEventListener('mousemove', this.onMove);
    this.sp.subscribe('view', ({ view }) => {
      map.viewChanged(this, view);
      this.schedule();
    });
    this.canvas.addEventListener('dblclick', () => this.doubleClicked());
    this.boxEvents();
  }

  selected(points) {
    if (!points || !points.length || this.quiet) return;
    if (points.length === 1 && performance.now() - (this.lassoEnded || -1e9) < 400) return;
    const ids = Array.from(points, (i) => this.ids[i]);
    this.quiet = true;
    this.sp.deselect({ preventEvent: true });
    this.quiet = false;
    clearTimeout(this.clicked);
    if (ids.length === 1) {
      // a click on a point: wait, in case it is the first click of a double-click (which clears;
      // the library's event may even come after the double-click)
      const at = performance.now();
      if (at - (this.doubleAt || -1e9) < 500) return;
      this.clicked = setTimeout(() => { if (!(this.doubleAt > at)) this.map.select(ids); }, 350);
    } else {
      this.map.select(ids);
    }
  }

  doubleClicked() {
    this.doubleAt = performance.now();
    clearTimeout(this.clicked);
    this.map.cleared();
  }

  setMode(mode) {
    this.sp.set({ mouseMode: mode === 'pan' ? 'panZoom' : 'lasso' });
    this.frame.style.cursor = mode === 'box' ? 'crosshair' : '';
  }

  // ---------------------------------------------------------------- camera
  size() {
    return [this.canvas.clientWidth || 1, this.canvas.clientHeight || 1];
  }

  toPoint(sx, sy) {
    const [w, h] = this.size();
    const v = this.sp.get('cameraView');
    const ar = w / h;
    const cx = (sx / w) * 2 - 1, cy = 1 - (sy / h) * 2;
    return [(cx * ar - v[12]) / v[0], (cy - v[13]) / v[5]];
  }

  toScreen(px, py) {
    const [w, h] = this.size();
    const v = this.sp.get('cameraView');
    const ar = w / h;
    const cx = (v[0] * px + v[12]) / ar, cy = v[5] * py + v[13];
    return [((cx + 1) / 2) * w, ((1 - cy) / 2) * h];
  }

  setView(view) {
    // preventEvent: a panel that follows another must not announce the move (it would echo back)
    this.sp.view(new Float32Array(view), { preventEvent: true }); // a copy: the camera keeps the array it is given
    this.schedule();
  }

  // ---------------------------------------------------------------- points
  async draw(ids, x, y, z, w, { transition = false, duration = 600 } = {}) {
    const moved = transition && this.ids.length === ids.length && this.ids.every((v, i) => v === ids[i]);
    this.ids = ids;
    this.x = x;
    this.y = y;
    this.empty.style.display = ids.length ? 'none' : 'flex';
    this.el.dataset.points = String(ids.length);
    const options = { zDataType: 'categorical', wDataType: 'categorical' };
    if (moved) Object.assign(options, { transition: true, transitionDuration: duration });
    this.el.dataset.transition = moved ? 'running' : 'none';
    await this.sp.draw({ x, y, z, w }, options);
    this.el.dataset.transition = 'done';
    this.schedule();
  }

  setPointSize(n) {
    this.sp.set({ pointSize: n <= 2000 ? 7 : n <= 10000 ? 5 : n <= 100000 ? 3 : 2 });
  }

  // ---------------------------------------------------------------- the 2-D layer
  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.paintOver();
    });
  }

  inView(limit) {
    // Local indices of the points in view, or null when there are more than ``limit``.
    const [w, h] = this.size();
    const [x0, y0] = this.toPoint(0, h), [x1, y1] = this.toPoint(w, 0);
    const found = [];
    const { x, y } = this;
    for (let i = 0; i < x.length; i += 1) {
      if (x[i] >= x0 && x[i] <= x1 && y[i] >= y0 && y[i] <= y1) {
        found.push(i);
        if (found.length > limit) return null;
      }
    }
    return found;
  }

  // Local indices of up to ``limit`` points nearest point ``index`` on the screen, within 80 px.
  near(index, limit) {
    const r = 160 / (this.size()[1] * this.sp.get('cameraView')[0]); // 80 px in the panel's units
    const x0 = this.x[index], y0 = this.y[index];
    const found = [];
    for (let i = 0; i < this.x.length; i += 1) {
      const dx = this.x[i] - x0, dy = this.y[i] - y0;
      if (i !== index && Math.abs(dx) <= r && Math.abs(dy) <= r) found.push([dx * dx + dy * dy, i]);
    }
    found.sort((a, b) => a[0] - b[0]);
    return found.slice(0, limit).map(([, i]) => this.ids[i]);
  }

  paintOver() {
    const [w, h] = this.size();
    const ratio = window.devicePixelRatio || 1;
    if (this.over.width !== Math.round(w * ratio) || this.over.height !== Math.round(h * ratio)) {
      this.over.width = Math.round(w * ratio);
      this.over.height = Math.round(h * ratio);
    }
    const ctx = this.over.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const map = this.map;
    const zoomed = this.sp.get('cameraView')[0] >= ZOOMED_IN;
    const shown = zoomed && map.images ? this.inView(THUMBNAILS_AT) : null;
    this.thumbnails = 0;
    if (shown && shown.length) {
      map.askFor(Array.from(shown, (i) => this.ids[i]));
      this.paintThumbnails(ctx, shown);
    } else if (map.hasShifts()) {
      this.paintTriangles(ctx);
    }
    this.el.dataset.thumbnails = String(this.thumbnails);
    this.paintOverlays(ctx);
  }

  paintThumbnails(ctx, shown) {
    const map = this.map;
    const [w] = this.size();
    const side = Math.max(20, Math.min(56, Math.round(w / Math.sqrt(shown.length + 1) / 2.2)));
    ctx.imageSmoothingEnabled = false;
    for (const i of shown) {
      const id = this.ids[i];
      const [sx, sy] = this.toScreen(this.x[i], this.y[i]);
      const selected = map.isSelected(id);
      ctx.globalAlpha = map.anySelected() && !selected ? 0.35 : 1;
      if (!map.drawImage(ctx, id, sx - side / 2, sy - side / 2, side)) continue;
      ctx.lineWidth = selected ? 3 : 2;
      ctx.strokeStyle = map.colourOf(id);
      ctx.strokeRect(sx - side / 2, sy - side / 2, side, side);
      this.thumbnails += 1;
    }
    ctx.globalAlpha = 1;
  }

  paintTriangles(ctx) {
    const map = this.map;
    const shown = this.inView(TRIANGLES_AT);
    if (!shown) return;
    const base = this.ids.length <= 2000 ? 6 : 4.5;
    for (const i of shown) {
      const id = this.ids[i];
      const shift = map.shiftOf(id);
      if (!shift) continue;
      const [sx, sy] = this.toScreen(this.x[i], this.y[i]);
      const r = base * map.shiftScale(shift);
      const d = shift < 0 ? -1 : 1;
      ctx.globalAlpha = map.anySelected() && !map.isSelected(id) ? map.dim : 1;
      ctx.beginPath();
      ctx.moveTo(sx + d * r, sy);
      ctx.lineTo(sx - d * r * 0.8, sy - r * 0.85);
      ctx.lineTo(sx - d * r * 0.8, sy + r * 0.85);
      ctx.closePath();
      ctx.fillStyle = map.colourOf(id);
      ctx.fill();
      ctx.lineWidth = 0.8;
      ctx.strokeStyle = 'rgba(30,30,30,0.9)';
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  paintOverlays(ctx) {
    const map = this.map;
    for (const item of map.overlays) {
      if (item.panel !== this.index) continue;
      ctx.strokeStyle = item.color || '#000';
      ctx.fillStyle = item.color || '#000';
      ctx.globalAlpha = item.opacity ?? 1;
      ctx.lineWidth = item.width || 1;
      ctx.setLineDash(item.dash ? [3, 3] : []);
      if (item.kind === 'lines') {
        ctx.beginPath();
        for (let k = 0; k < item.x0.length; k += 1) {
          const a = this.toScreen(...map.norm(item.x0[k], item.y0[k], this.index));
          const b = this.toScreen(...map.norm(item.x1[k], item.y1[k], this.index));
          ctx.moveTo(a[0], a[1]);
          ctx.lineTo(b[0], b[1]);
        }
        ctx.stroke();
      } else {
        for (let k = 0; k < item.x.length; k += 1) {
          const [sx, sy] = this.toScreen(...map.norm(item.x[k], item.y[k], this.index));
          mark(ctx, item.symbol, sx, sy, (item.size || 12) / 2);
        }
      }
    }
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
    if (this.box) {
      const [a, b, c, d] = this.box;
      ctx.strokeStyle = '#333';
      ctx.lineWidth = 1;
      ctx.setLineDash([4, 3]);
      ctx.strokeRect(Math.min(a, c), Math.min(b, d), Math.abs(c - a), Math.abs(d - b));
      ctx.setLineDash([]);
    }
  }

  // ---------------------------------------------------------------- box selection
  boxEvents() {
    // In Box mode a press on the map starts a box instead of the library's lasso or pan: caught
    // on the way down (capture) so the canvas never sees it; moves still reach the canvas, so
    // hovering shows images in every mode.
    const frame = this.frame;
    const local = (e) => {
      const r = frame.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    const move = (e) => {
      if (!this.box) return;
      [this.box[2], this.box[3]] = local(e);
      this.schedule();
    };
    const up = () => {
      window.removeEventListener('mousemove', move, true);
      window.removeEventListener('mouseup', up, true);
      const box = this.box;
      this.box = null;
      this.schedule();
      if (!box || Math.abs(box[2] - box[0]) < 3 || Math.abs(box[3] - box[1]) < 3) return;
      const [ax, ay] = this.toPoint(box[0], box[1]), [bx, by] = this.toPoint(box[2], box[3]);
      const found = [];
      const x0 = Math.min(ax, bx), x1 = Math.max(ax, bx), y0 = Math.min(ay, by), y1 = Math.max(ay, by);
      for (let i = 0; i < this.x.length; i += 1) {
        if (this.x[i] >= x0 && this.x[i] <= x1 && this.y[i] >= y0 && this.y[i] <= y1) found.push(this.ids[i]);
      }
      if (found.length) this.map.select(found);
    };
    const down = (e) => {
      if (this.map.mode !== 'box' || e.button !== 0) return;
      e.stopPropagation();
      if (e.type !== 'mousedown') return; // (preventDefault on pointerdown would drop the mousedown)
      e.preventDefault();
      const [x, y] = local(e);
      this.box = [x, y, x, y];
      window.addEventListener('mousemove', move, true);
      window.addEventListener('mouseup', up, true);
    };
    frame.addEventListener('pointerdown', down, true);
    frame.addEventListener('mousedown', down, true);
    frame.addEventListener('click', (e) => { if (this.map.mode === 'box') e.stopPropagation(); }, true);
  }

  destroy() {
    window.removeEventListener('mousemove', this.onMove);
    this.sp.destroy();
    this.el.remove();
  }
}

function mark(ctx, symbol, x, y, r) {
  ctx.beginPath();
  if (symbol === 'star') {
    for (let k = 0; k < 10; k += 1) {
      const a = (Math.PI / 5) * k - Math.PI / 2, rr = k % 2 ? r * 0.45 : r;
      ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
    }
    ctx.closePath();
    ctx.fill();
  } else if (symbol === 'diamond') {
    ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y);
    ctx.closePath();
    ctx.fill();
    ctx.strokeStyle = '#111';
    ctx.lineWidth = 1;
    ctx.stroke();
  } else if (symbol === 'x') {
    ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r); ctx.moveTo(x + r, y - r); ctx.lineTo(x - r, y + r);
    ctx.stroke();
  } else {
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.stroke();
  }
}
