// stylegram studio: the page. Plain JavaScript, no build step. State comes from the server's event
// stream (every tab sees the same jobs); this file only renders it and sends what the user asks.
"use strict";

const TOKEN = window.STUDIO_TOKEN || "";
const $ = (id) => document.getElementById(id);
const withToken = (url) => (TOKEN ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN) : url);

const page = {
  config: null,
  pictures: [],
  content: null,
  styles: [],
  state: null,
  previews: {}, // job id -> data URL of its latest live image
  selected: null, // the job shown in "Now" (null: the running one, else the newest)
  base: null, // settings of a re-run recipe, under the form's own fields
  galleryVersion: -1,
};

async function api(method, url, body, headers) {
  const options = { method, headers: { "X-Requested-With": "stylegram", ...(headers || {}) } };
  if (TOKEN) options.headers["X-Stylegram-Token"] = TOKEN;
  if (body instanceof Blob) {
    options.body = body;
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new Error("the studio is not reachable");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
  return data;
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// --- images ---------------------------------------------------------------------------------------------
async function loadPictures() {
  page.pictures = await api("GET", "/api/images");
  renderLibrary();
}

function choose(id, role) {
  if (role === "content") {
    page.content = id;
    page.styles = page.styles.filter((s) => s !== id);
  } else if (page.styles.includes(id)) {
    page.styles = page.styles.filter((s) => s !== id);
  } else {
    page.styles.push(id);
    if (page.content === id) page.content = null;
  }
  renderLibrary();
}

function renderLibrary() {
  const library = $("library");
  library.replaceChildren(
    ...page.pictures.map((picture) => {
      const isContent = page.content === picture.id;
      const isStyle = page.styles.includes(picture.id);
      return element(
        "figure",
        { class: "picture" + (isContent ? " is-content" : "") + (isStyle ? " is-style" : ""), dataset: { id: picture.id, kind: picture.kind } },
        element("img", { src: withToken(`/api/images/${picture.id}`), alt: picture.label, loading: "lazy" }),
        element("figcaption", { title: picture.label }, picture.label, element("small", {}, ` ${picture.width}×${picture.height}`)),
        element(
          "div",
          { class: "roles" },
          element("button", { type: "button", class: "as-content" + (isContent ? " on" : ""), onclick: () => choose(picture.id, "content") }, "Photo"),
          element("button", { type: "button", class: "as-style" + (isStyle ? " on" : ""), onclick: () => choose(picture.id, "style") }, "Style")
        )
      );
    })
  );
  const label = (id) => (page.pictures.find((p) => p.id === id) || { label: "?" }).label;
  $("choice").textContent =
    (page.content ? `Photo: ${label(page.content)}` : "Choose a photo") +
    " · " +
    (page.styles.length ? `Style: ${page.styles.map(label).join(" + ")}` : "choose a style");
  const photo = page.pictures.find((p) => p.id === page.content) || null;
  brushSetImages(photo, page.styles, page.styles.map(label), photo ? withToken(`/api/images/${photo.id}`) : "");
}

async function upload(files) {
  $("upload-error").textContent = "";
  for (const file of files) {
    try {
      const picture = await api("POST", "/api/uploads", file, { "X-Filename": encodeURIComponent(file.name) });
      if (!page.pictures.some((p) => p.id === picture.id)) page.pictures.push(picture);
      if (!page.content && !page.styles.includes(picture.id)) page.content = picture.id;
      else if (page.content !== picture.id && !page.styles.length) page.styles.push(picture.id);
      renderLibrary();
    } catch (error) {
      $("upload-error").textContent = error.message;
    }
  }
}

// --- settings -------------------------------------------------------------------------------------------
function buildForm() {
  const fields = $("fields");
  for (const field of page.config.fields) {
    const id = "field-" + field.name;
    let input;
    if (field.kind === "bool") {
      input = element("input", { id, name: field.name, type: "checkbox" });
      input.checked = Boolean(field.default);
    } else if (field.choices) {
      input = element("select", { id, name: field.name }, ...field.choices.map((c) => element("option", { value: c }, c)));
      input.value = field.default;
    } else {
      input = element("input", {
        id, name: field.name, type: "number", inputmode: field.kind === "int" ? "numeric" : "decimal",
        step: field.kind === "int" ? "1" : "any", min: field.min,
      });
      input.value = field.default;
    }
    fields.append(element("label", { class: "field field-" + field.kind, for: id }, element("span", {}, field.label, element("code", {}, field.option)), input));
  }
}

function formValues() {
  const values = {};
  for (const field of page.config.fields) {
    const input = $("field-" + field.name);
    values[field.name] = field.kind === "bool" ? input.checked : input.value;
  }
  return values;
}

function fillForm(settings) {
  for (const field of page.config.fields) {
    if (!(field.name in settings)) continue;
    const input = $("field-" + field.name);
    if (field.kind === "bool") input.checked = Boolean(settings[field.name]);
    else input.value = settings[field.name];
  }
}

function setBase(settings, name) {
  page.base = settings;
  const note = $("based-on");
  note.hidden = !settings;
  if (settings) {
    note.replaceChildren(`Other settings from ${name} `, element("button", { type: "button", class: "link", onclick: () => setBase(null) }, "(use defaults)"));
  }
}

async function start(event) {
  event.preventDefault();
  $("form-error").textContent = "";
  try {
    const masks = await brushMasks(); // null when nothing is painted
    const job = await api("POST", "/api/jobs", {
      content: page.content,
      styles: page.styles,
      settings: { ...(page.base || {}), ...formValues() },
      ...(masks ? { masks } : {}),
    });
    page.selected = job.id;
  } catch (error) {
    $("form-error").textContent = error.message;
  }
}

// --- jobs -----------------------------------------------------------------------------------------------
function shownJob() {
  const jobs = (page.state && page.state.jobs) || [];
  return jobs.find((j) => j.id === page.selected) || jobs.find((j) => j.id === page.state.running) || jobs[0] || null;
}

const duration = (seconds) => {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

function renderCurve(points) {
  const svg = $("curve");
  const usable = points.filter((p) => p[1] > 0);
  if (usable.length < 2) {
    svg.replaceChildren();
    return;
  }
  const xs = usable.map((p) => p[0]);
  const ys = usable.map((p) => Math.log10(p[1]));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const x = (v) => (x1 > x0 ? ((v - x0) / (x1 - x0)) * 296 + 2 : 150);
  const y = (v) => (y1 > y0 ? 66 - ((v - y0) / (y1 - y0)) * 62 : 35);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", usable.map((p, i) => `${x(xs[i]).toFixed(1)},${y(ys[i]).toFixed(1)}`).join(" "));
  svg.replaceChildren(line);
}

function renderNow() {
  const job = shownJob();
  const live = $("live");
  $("stage-empty").hidden = Boolean(job);
  $("job-error").textContent = "";
  if (!job) {
    live.removeAttribute("src");
    for (const id of ["stop", "resume", "download"]) $(id).hidden = true;
    return;
  }
  const active = ["running", "stopping", "queued"].includes(job.status);
  let source = null;
  if (job.status === "done" && job.result) source = withToken(`/api/results/${encodeURIComponent(job.result)}`);
  else if (!active && job.best) source = withToken(`/api/jobs/${job.id}/image?at=${job.iteration}`);
  else if (page.previews[job.id]) source = page.previews[job.id];
  if (source && live.getAttribute("src") !== source) live.src = source;
  if (!source) live.removeAttribute("src");
  live.dataset.job = job.id;
  live.dataset.iteration = job.iteration;

  const queuePosition = page.state.queue.indexOf(job.id);
  const status = job.status === "queued" && queuePosition > 0 ? `queued (${queuePosition} before it)` : job.status;
  $("job-status").replaceChildren(
    element("span", { class: "badge " + job.status }, status),
    ` ${job.content_label} ← ${job.style_labels.join(" + ")}`,
    ...(job.source ? [element("small", {}, ` (re-run of ${job.source})`)] : [])
  );
  $("job-status").dataset.status = job.status;
  $("stat-scale").textContent = job.scales ? `${job.scale}/${job.scales} (${job.size} px)` : "–";
  $("stat-iteration").textContent = job.iterations ? `${job.iteration}/${job.iterations}` : "–";
  $("stat-speed").textContent = job.seconds_per_iteration ? job.seconds_per_iteration.toFixed(2) : "–";
  $("stat-eta").textContent = job.status === "running" ? duration(job.eta) : "–";
  $("stat-loss").textContent = job.loss ? job.loss.toPrecision(4) : "–";
  renderCurve(job.losses || []);

  $("stop").hidden = !active;
  $("stop").disabled = job.status === "stopping";
  $("stop").onclick = () => act(`/api/jobs/${job.id}/stop`);
  $("resume").hidden = !["stopped", "failed", "cancelled"].includes(job.status);
  $("resume").textContent = job.resumable ? "Resume" : "Start again";
  $("resume").onclick = () => act(`/api/jobs/${job.id}/resume`);
  const download = job.status === "done" && job.result ? `/api/results/${encodeURIComponent(job.result)}?download=1` : job.best && !active ? `/api/jobs/${job.id}/image?download=1` : null;
  $("download").hidden = !download;
  if (download) $("download").href = withToken(download);
  if (job.message) $("job-error").textContent = job.message;
  $("job-error").className = job.status === "failed" ? "error" : "note";
}

async function act(url) {
  $("job-error").textContent = "";
  try {
    await api("POST", url);
  } catch (error) {
    $("job-error").textContent = error.message;
  }
}

function renderJobs() {
  const jobs = page.state.jobs;
  $("jobs").replaceChildren(
    ...jobs.map((job) =>
      element(
        "li",
        { class: job.id === (shownJob() || {}).id ? "shown" : "", dataset: { job: job.id, status: job.status }, onclick: () => { page.selected = job.id; render(); } },
        element("span", { class: "badge " + job.status }, job.status),
        ` ${job.content_label} ← ${job.style_labels.join(" + ")} · ${job.settings.size || page.config.defaults.size} px`,
        job.iterations ? element("small", {}, ` · ${job.iteration}/${job.iterations}`) : null
      )
    )
  );
  const stopped = jobs.filter((j) => j.status === "stopped" && j.resumable);
  const banner = $("resume-banner");
  banner.hidden = !stopped.length || Boolean(page.state.running);
  if (stopped.length) {
    banner.replaceChildren(
      `${stopped.length} stopped job${stopped.length > 1 ? "s" : ""} can be resumed: `,
      ...stopped.slice(0, 3).map((job) => element("button", { type: "button", class: "resume-job", onclick: () => { page.selected = job.id; act(`/api/jobs/${job.id}/resume`); } }, `Resume ${job.content_label} (${job.iteration}/${job.iterations})`))
    );
  }
}

function render() {
  if (!page.state) return;
  renderNow();
  renderJobs();
  if (page.state.gallery !== page.galleryVersion) {
    page.galleryVersion = page.state.gallery;
    loadGallery();
  }
}

// --- gallery --------------------------------------------------------------------------------------------
function summary(settings) {
  const d = page.config.defaults;
  const value = (name) => (name in settings ? settings[name] : d[name]);
  return `${value("size")} px · ${value("iterations")} iterations · style weight ${value("style_weight")} · style scale ${value("style_scale")} · colours ${value("original_colors") ? "of the photo" : "styled"} · ${value("precision")}`;
}

async function loadGallery() {
  let entries;
  try {
    entries = await api("GET", "/api/gallery");
  } catch (error) {
    return;
  }
  $("gallery").replaceChildren(
    ...entries.map((entry) =>
      element(
        "article",
        { class: "result", dataset: { name: entry.name } },
        element("img", { src: withToken(`/api/results/${encodeURIComponent(entry.name)}`), alt: entry.name, loading: "lazy" }),
        element("h4", {}, entry.name),
        element("p", { class: "inputs" }, `${entry.content} ← ${entry.styles.join(" + ")}`),
        element("p", { class: "recipe-summary" }, summary(entry.settings) + (entry.masks ? " · painted masks" : "")),
        element("details", {}, element("summary", {}, "recipe"), element("pre", { class: "recipe" }, JSON.stringify(entry.recipe, null, 1))),
        element(
          "div",
          { class: "actions" },
          element("button", { type: "button", class: "rerun", disabled: !entry.rerun, title: entry.note || "", onclick: () => rerun(entry) }, "Re-run"),
          element("button", { type: "button", class: "use", onclick: () => useRecipe(entry) }, "Use settings"),
          element("a", { class: "button", href: withToken(`/api/results/${encodeURIComponent(entry.name)}?download=1`), download: entry.name }, "Download")
        )
      )
    )
  );
}

function useRecipe(entry, job) {
  fillForm(entry.settings);
  setBase(entry.settings, entry.name);
  if (job) {
    page.content = job.content;
    page.styles = [...job.styles];
    renderLibrary();
  }
}

async function rerun(entry) {
  $("job-error").textContent = "";
  try {
    const job = await api("POST", "/api/rerun", { name: entry.name });
    page.selected = job.id;
    useRecipe(entry, job);
    if (job.masks) await brushRestore(job.masks.map((id) => withToken(`/api/masks/${id}`)));
    else brushClear();
  } catch (error) {
    $("job-error").textContent = error.message;
  }
}

// --- live -----------------------------------------------------------------------------------------------
function connect() {
  const events = new EventSource(withToken("/api/events"));
  events.onopen = () => {
    $("connection").textContent = "live";
    $("connection").className = "pill live";
  };
  events.onerror = () => {
    $("connection").textContent = "reconnecting…";
    $("connection").className = "pill";
  };
  events.addEventListener("state", (event) => {
    page.state = JSON.parse(event.data);
    render();
  });
  events.addEventListener("preview", (event) => {
    const preview = JSON.parse(event.data);
    page.previews[preview.job] = preview.data;
    if (page.state) renderNow();
  });
}

async function main() {
  try {
    page.config = await api("GET", "/api/config");
  } catch (error) {
    $("connection").textContent = error.message;
    return;
  }
  buildForm();
  startBrush();
  $("form").addEventListener("submit", start);
  $("file").addEventListener("change", (event) => {
    upload([...event.target.files]);
    event.target.value = "";
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    upload([...event.dataTransfer.files]);
  });
  await loadPictures().catch((error) => ($("upload-error").textContent = error.message));
  connect();
}

main();
