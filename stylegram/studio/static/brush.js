// stylegram studio: the mask brush. One transparent layer (a canvas) per style image lies over the photo;
// the brush paints the chosen style's colour on its layer and takes the other layers' paint off there
// (a spot has one style), the eraser takes every layer's paint off. Masks go with the job as PNGs at the
// photo's natural size: white where that style's colour is, black elsewhere. Nothing painted: no masks.
// Once anything is painted, unpainted spots are black in every mask: no style there, the photo stays.
"use strict";

const MASK_COLOURS = ["#e03131", "#1971c2", "#2f9e44", "#f08c00", "#9c36b5", "#0c8599", "#e64980", "#fab005"];
const PAINT_EDGE = 2048; // px: layers are painted at the photo's size, at most this long an edge
const maskColour = (index) => MASK_COLOURS[index % MASK_COLOURS.length];

const brush = {
  picture: null, // the content image: {id, width, height}
  styles: [], // style image ids, in order: style 1 paints in MASK_COLOURS[0], ...
  labels: [],
  layers: new Map(), // style id -> its canvas
  chosen: 0, // index of the style the brush paints
  last: null, // the stroke's last point, in layer pixels
};

const el = (id) => document.getElementById(id);

// --- the images -----------------------------------------------------------------------------------------
function brushSetImages(picture, styles, labels, photoUrl) {
  el("mask-panel").hidden = !picture || !styles.length;
  if (!picture) return;
  if (!brush.picture || brush.picture.id !== picture.id) {
    brush.picture = picture;
    brush.layers = new Map();
    el("mask-photo").src = photoUrl;
  }
  for (const id of [...brush.layers.keys()]) if (!styles.includes(id)) brush.layers.delete(id);
  styles.forEach((id, index) => {
    if (!brush.layers.has(id)) brush.layers.set(id, newLayer());
    recolour(brush.layers.get(id), maskColour(index));
  });
  brush.styles = [...styles];
  brush.labels = [...labels];
  brush.chosen = Math.min(brush.chosen, Math.max(0, styles.length - 1));
  el("mask-layers").replaceChildren(...styles.map((id) => brush.layers.get(id)));
  renderColours();
  renderPainted();
}

function newLayer() {
  const scale = Math.min(1, PAINT_EDGE / Math.max(brush.picture.width, brush.picture.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(brush.picture.width * scale));
  canvas.height = Math.max(1, Math.round(brush.picture.height * scale));
  return canvas;
}

function recolour(canvas, colour) {
  const context = canvas.getContext("2d");
  context.globalCompositeOperation = "source-in";
  context.fillStyle = colour;
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.globalCompositeOperation = "source-over";
}

function renderColours() {
  el("mask-colours").replaceChildren(
    ...brush.styles.map((id, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "mask-colour" + (index === brush.chosen ? " on" : "");
      button.dataset.style = String(index + 1);
      button.style.setProperty("--swatch", maskColour(index));
      button.title = `Paint where style ${index + 1} goes`;
      button.textContent = `${index + 1} ${brush.labels[index] || ""}`;
      button.onclick = () => {
        brush.chosen = index;
        el("tool-brush").checked = true;
        renderColours();
      };
      return button;
    })
  );
}

// --- painting -------------------------------------------------------------------------------------------
function layerPoint(event) {
  const box = el("mask-layers").getBoundingClientRect();
  const layer = brush.layers.get(brush.styles[0]);
  const scale = layer.width / box.width;
  return { x: (event.clientX - box.left) * scale, y: (event.clientY - box.top) * scale, scale };
}

function paintSegment(from, to) {
  const eraser = el("tool-eraser").checked;
  const width = Number(el("brush-size").value) * to.scale;
  brush.styles.forEach((id, index) => {
    const context = brush.layers.get(id).getContext("2d");
    const paints = !eraser && index === brush.chosen;
    context.globalCompositeOperation = paints ? "source-over" : "destination-out";
    context.strokeStyle = context.fillStyle = paints ? maskColour(index) : "#000";
    context.lineWidth = width;
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    context.arc(to.x, to.y, width / 2, 0, 2 * Math.PI);
    context.fill();
    context.beginPath();
    context.moveTo(from.x, from.y);
    context.lineTo(to.x, to.y);
    context.stroke();
    context.globalCompositeOperation = "source-over";
  });
}

function startBrush() {
  const surface = el("mask-layers");
  surface.addEventListener("pointerdown", (event) => {
    if (!brush.styles.length) return;
    event.preventDefault();
    surface.setPointerCapture(event.pointerId);
    brush.last = layerPoint(event);
    paintSegment(brush.last, brush.last);
  });
  surface.addEventListener("pointermove", (event) => {
    if (!brush.last) return;
    const point = layerPoint(event);
    paintSegment(brush.last, point);
    brush.last = point;
  });
  for (const name of ["pointerup", "pointercancel"]) {
    surface.addEventListener(name, () => {
      if (brush.last) renderPainted();
      brush.last = null;
    });
  }
  el("mask-clear").addEventListener("click", brushClear);
}

function brushClear() {
  for (const layer of brush.layers.values()) layer.getContext("2d").clearRect(0, 0, layer.width, layer.height);
  renderPainted();
}

function isPainted(layer) {
  const data = layer.getContext("2d").getImageData(0, 0, layer.width, layer.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i]) return true;
  return false;
}

function renderPainted() {
  const painted = [...brush.layers.values()].some(isPainted);
  el("mask-state").textContent = painted
    ? `Painted: each style goes only where its colour is (${brush.styles.length} mask${brush.styles.length > 1 ? "s" : ""} go with Start).`
    : "Nothing painted: every style everywhere (no masks).";
  el("mask-state").dataset.painted = painted ? "yes" : "no";
}

// --- masks out and in -----------------------------------------------------------------------------------
// One PNG data URL per style image at the photo's natural size, or null when nothing is painted.
async function brushMasks() {
  if (!brush.picture || ![...brush.layers.values()].some(isPainted)) return null;
  const masks = [];
  for (const id of brush.styles) masks.push(await maskDataUrl(brush.layers.get(id)));
  return masks;
}

async function maskDataUrl(layer) {
  const { width, height } = brush.picture;
  const white = document.createElement("canvas");
  [white.width, white.height] = [width, height];
  const whiteContext = white.getContext("2d");
  whiteContext.drawImage(layer, 0, 0, width, height); // the paint's coverage, as its alpha
  whiteContext.globalCompositeOperation = "source-in";
  whiteContext.fillStyle = "#fff";
  whiteContext.fillRect(0, 0, width, height);
  const mask = document.createElement("canvas");
  [mask.width, mask.height] = [width, height];
  const context = mask.getContext("2d");
  context.fillStyle = "#000"; // opaque: a reader puts transparency on white, which would mean "this style"
  context.fillRect(0, 0, width, height);
  context.drawImage(white, 0, 0);
  const blob = await new Promise((resolve) => mask.toBlob(resolve, "image/png"));
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error("a mask could not be read back"));
    reader.readAsDataURL(blob);
  });
}

// Paint saved masks (one URL per style image, in order) back onto the layers: white becomes that style's colour.
async function brushRestore(urls) {
  const picture = brush.picture;
  const images = await Promise.all(urls.map((url) => new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("a mask of this recipe could not be loaded"));
    image.src = url;
  })));
  if (brush.picture !== picture || images.length !== brush.styles.length) return;
  images.forEach((image, index) => {
    const layer = brush.layers.get(brush.styles[index]);
    const context = layer.getContext("2d");
    context.clearRect(0, 0, layer.width, layer.height);
    context.drawImage(image, 0, 0, layer.width, layer.height);
    const pixels = context.getImageData(0, 0, layer.width, layer.height);
    const colour = maskColour(index).match(/\w\w/g).map((hex) => parseInt(hex, 16));
    const data = pixels.data;
    for (let i = 0; i < data.length; i += 4) {
      const weight = Math.round((data[i] + data[i + 1] + data[i + 2]) / 3);
      [data[i], data[i + 1], data[i + 2], data[i + 3]] = [...colour, weight];
    }
    context.putImageData(pixels, 0, 0);
  });
  renderPainted();
}
