// pathgrad explorer: draws a job's network (the server's SVG), lights a weight's or a
// neuron's top paths, lists them with their contributions, shows the formula (MathML)
// and the delta recursion, and grades a student's answer. No library, no build step;
// it talks only to the server that served it.
"use strict";

(() => {
  const PATHS = 20; // the top paths shown for a selection (the contract's default)
  const FORMULA_PATHS = 64; // the server's formulas stop there (unreadable beyond)
  const STEPS_ALL = 8; // the recursion of every neuron on the paths, up to this many
  const KEY = "pathgrad-api-key";
  const MATHML = "http://www.w3.org/1998/Math/MathML";
  const $ = (id) => document.getElementById(id);

  const state = {
    job: null, svg: null, mode: null, nodes: new Map(), edges: new Map(),
    edgesFrom: new Map(), network: null, selection: null, ticket: 0, page: null,
  };

  // --- talking to the server -----------------------------------------------------------

  class Problem extends Error {
    constructor(status, body) {
      super(body && body.detail ? body.detail : `the server answered ${status}`);
      this.status = status;
      this.body = body || {};
    }
  }

  function headers(extra) {
    const found = new Headers(extra || {});
    const key = sessionStorage.getItem(KEY);
    if (key) found.set("Authorization", `Bearer ${key}`);
    return found;
  }

  async function request(path, { method = "GET", json, tries = 20 } = {}) {
    const init = { method, headers: headers(), cache: "no-store" };
    if (json !== undefined) {
      init.headers.set("Content-Type", "application/json");
      init.body = JSON.stringify(json);
    }
    for (let attempt = 1; ; attempt += 1) {
      const response = await fetch(path, init);
      if (response.status === 401) {
        askForKey(await problemOf(response));
        throw new Problem(401, { detail: "this server needs an API key" });
      }
      // 503 with Retry-After: a worker is still computing; ask again.
      if (response.status === 503 && attempt < tries && response.headers.has("Retry-After")) {
        await response.body?.cancel();
        const seconds = Number(response.headers.get("Retry-After")) || 1;
        await new Promise((done) => setTimeout(done, Math.min(seconds, 2) * 1000));
        continue;
      }
      return response;
    }
  }

  async function problemOf(response) {
    try {
      return await response.json();
    } catch {
      return { detail: `the server answered ${response.status}` };
    }
  }

  async function getJson(path) {
    const response = await request(path);
    if (!response.ok) throw new Problem(response.status, await problemOf(response));
    return response.json();
  }

  const enc = encodeURIComponent;

  // --- status, key -----------------------------------------------------------------------

  function say(text, error = false) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("error", error);
  }

  function fail(error) {
    if (error instanceof Problem && error.status === 401) return;
    say(error instanceof Problem ? `Error: ${error.message}` : `Error: ${error}`, true);
  }

  function askForKey(problem) {
    const form = $("key-form");
    form.hidden = false;
    say(problem && problem.detail && sessionStorage.getItem(KEY)
      ? "That API key was not accepted: enter a valid one." : "Enter an API key to continue.",
    true);
    $("api-key").focus();
  }

  // --- opening a network -----------------------------------------------------------------

  async function openSeed() {
    const seed = await getJson("/explore/examples/seed.json");
    await submit(seed, {}, "the seed example");
  }

  async function submit(network, options, what) {
    say(`Analysing ${what}…`);
    const response = await request("/v1/jobs?wait=10", {
      method: "POST", json: { network, options },
    });
    if (!response.ok) {
      const problem = await problemOf(response);
      if (problem.type && problem.type.endsWith(":path-limit") && options.path_sum !== false) {
        // Too many paths to enumerate them all: backprop alone, paths listed best-first.
        return submit(network, { ...options, path_sum: false }, what);
      }
      throw new Problem(response.status, problem);
    }
    // The job's address is in a header: no need to read a large result here.
    const where = response.headers.get("Content-Location") || response.headers.get("Location");
    await response.body?.cancel();
    const id = where.split("/").pop();
    history.pushState(null, "", `/explore?job=${enc(id)}`);
    await openJob(id, null);
  }

  async function openJob(id, selection) {
    state.job = id;
    state.network = null;
    state.selection = null;
    $("job-id").value = id;
    say("Drawing the network…");
    insertDrawing(await drawingOf(id, null));
    $("view").hidden = false;
    $("selection").hidden = true;
    if (selection) {
      await select(selection.kind, selection.name, { push: false });
    } else {
      say(`Job ${id}: choose a weight or a neuron.`);
    }
  }

  async function drawingOf(id, selection) {
    let path = `/explore/jobs/${enc(id)}/drawing.svg`;
    if (selection) path += `?${selection.kind}=${enc(selection.name)}`;
    const response = await request(path, { tries: 60 });
    if (!response.ok) throw new Problem(response.status, await problemOf(response));
    return response.text();
  }

  function insertDrawing(text) {
    const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
    const root = parsed.documentElement;
    if (root.localName !== "svg") throw new Error("the drawing is not SVG");
    const svg = document.importNode(root, true);
    $("drawing").replaceChildren(svg);
    // As wide as the panel leaves (up to 1.4 times its own size); a whole drawing much
    // wider than that keeps its size and scrolls, a block drawing always fits.
    const natural = Number(svg.getAttribute("width"));
    const room = $("drawing").clientWidth;
    if (svg.dataset.mode === "whole" && natural > 1.6 * room) svg.style.width = `${natural}px`;
    svg.style.maxWidth = `${natural * 1.4}px`;
    state.svg = svg;
    state.mode = svg.dataset.mode;
    state.nodes = new Map([...svg.querySelectorAll("[data-node]")].map((e) => [e.dataset.node, e]));
    state.edges = new Map([...svg.querySelectorAll("[data-weight]")].map((e) => [e.dataset.weight, e]));
    state.edgesFrom = new Map();
    for (const edge of state.edges.values()) {
      const from = edge.dataset.from;
      if (!state.edgesFrom.has(from)) state.edgesFrom.set(from, []);
      state.edgesFrom.get(from).push(edge);
    }
    const names = $("names");
    names.replaceChildren();
    if (state.mode === "whole") {
      for (const name of [...state.edges.keys(), ...state.nodes.keys()]) {
        names.append(new Option(name));
      }
    }
    const samples = Number(svg.dataset.samples);
    const parts = [`Layers ${svg.dataset.layers.replaceAll(",", ", ")}`,
      `loss ${svg.dataset.lossName} = ${fmt(svg.dataset.loss)}`];
    if (samples > 1) parts.push(`values are means over ${samples} samples`);
    parts.push(svg.dataset.checked === "true" ? "every path enumerated and checked against backprop"
      : "paths found best-first (too many to list them all)");
    if (state.mode === "blocks") parts.push("layers drawn as blocks: only the highlighted paths' neurons and weights are shown");
    $("summary").textContent = parts.join("; ") + ".";
  }

  // --- selecting ---------------------------------------------------------------------------

  function parseSelection(name) {
    const text = name.trim();
    if (!text) return null;
    return /^(W\d+|b_\w+)$/.test(text) ? { kind: "weight", name: text } : { kind: "node", name: text };
  }

  async function select(kind, name, { push = true } = {}) {
    const ticket = ++state.ticket; // a later selection makes this one stale
    state.selection = { kind, name };
    if (push) {
      history.pushState(null, "", `/explore?job=${enc(state.job)}&${kind}=${enc(name)}`);
    }
    say(kind === "weight" ? `Finding the top paths of ${name}…` : `Finding the top paths through ${name}…`);
    try {
      if (state.mode === "blocks") {
        const svg = await drawingOf(state.job, { kind, name });
        if (ticket !== state.ticket) return;
        insertDrawing(svg);
      }
      const page = kind === "weight"
        ? await getJson(`/v1/jobs/${enc(state.job)}/weights/${enc(name)}/paths?limit=${PATHS}`)
        : await getJson(`/v1/jobs/${enc(state.job)}/paths?through=${enc(name)}&limit=${PATHS}`);
      const flow = kind === "node" ? await getJson(`/v1/jobs/${enc(state.job)}/nodes/${enc(name)}`) : null;
      if (ticket !== state.ticket) return;
      const shown = kind === "weight" ? page.weight : name;
      highlight(page.paths, kind, shown);
      showSelection(page, kind, shown, flow);
      say(`${shown}: ${page.paths.length} of ${count(page.total_paths)} paths shown.`);
      if (kind === "weight" && !shown.startsWith("b_")) await showFormula(shown, page, ticket);
    } catch (error) {
      if (ticket === state.ticket) fail(error);
    }
  }

  function highlight(paths, kind, name) {
    const svg = state.svg;
    for (const element of svg.querySelectorAll(".on-path, .selected")) {
      element.classList.remove("on-path", "selected");
    }
    svg.classList.add("selecting");
    for (const path of paths) {
      for (const weight of path.weights) state.edges.get(weight)?.classList.add("on-path");
      for (const node of path.nodes) state.nodes.get(node)?.classList.add("on-path");
    }
    (kind === "weight" ? state.edges.get(name) : state.nodes.get(name))?.classList.add("selected");
    if (name.startsWith("b_")) state.nodes.get(name.slice(2))?.classList.add("selected");
  }

  // --- the panel ---------------------------------------------------------------------------

  function showSelection(page, kind, name, flow) {
    $("selection").hidden = false;
    state.page = page;
    $("panel").classList.toggle("quiz", kind === "weight" && $("quiz").checked);
    const isBias = name.startsWith("b_");
    const gradient = kind === "weight" ? `dLoss/d${name}` : null;
    $("selection-title").textContent = kind === "weight"
      ? `${gradient}: the paths of ${name}` : `The paths through ${name}`;
    const intro = $("selection-intro");
    if (kind === "weight") {
      const edge = state.edges.get(name);
      intro.textContent = isBias
        ? `The bias of ${name.slice(2)}: its paths start at ${name.slice(2)} and run to the output. `
          + `dLoss/d${name} = ${fmt(page.gradient)}.`
        : `${name} is the weight from ${edge ? edge.dataset.from : "?"} to ${edge ? edge.dataset.to : "?"}`
          + (edge ? ` (${name} = ${fmt(edge.dataset.value)})` : "")
          + `. Each path's contribution is the product of the factors along it.`;
    } else {
      intro.textContent = `${name}: value ${fmt(flow.value)}, δ = dLoss/dz = ${fmt(flow.delta)}. `
        + `${count(flow.paths_through)} input-to-output paths run through it; their contributions `
        + `add up to its flow ${fmt(flow.flow)} (|contribution|: ${fmt(flow.abs_flow)}).`;
    }
    const list = $("paths");
    list.replaceChildren(...page.paths.map((path) => pathItem(path, kind, isBias)));
    showSum(page, kind, name, flow);
    $("formula-block").hidden = kind !== "weight";
    $("formula").replaceChildren();
    showSteps(page, kind, name, 1);
    const answer = $("answer-form");
    answer.hidden = kind !== "weight";
    $("answer-label").textContent = `Your answer for ${gradient || "dLoss/dW"}`;
    $("answer").value = "";
    $("feedback").textContent = "";
    $("feedback").className = "feedback";
  }

  function pathItem(path, kind, isBias) {
    const item = document.createElement("li");
    item.dataset.pathRank = String(path.rank);
    item.dataset.contribution = String(path.contribution ?? path.contribution_exact ?? "");
    const route = span("route", path.nodes.join(" → "));
    const later = kind === "weight" && !isBias ? path.weights.slice(1) : path.weights;
    const via = span("via", later.length ? ` (${later.join("·")})` : "");
    const value = span("value", fmt(path.contribution ?? path.contribution_exact));
    value.title = "its contribution";
    const what = document.createElement("span");
    what.append(route, via);
    const row = document.createElement("div");
    row.className = "row";
    row.append(what, value);
    item.append(row);
    const factors = pathFactors(path, kind, isBias);
    if (factors) item.append(span("factors", factors));
    item.addEventListener("click", () => follow(path.rank));
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        follow(path.rank);
      }
    });
    return item;
  }

  // contribution = (input to the weight) · later weights · σ′ of every neuron from the
  // weight's target on · dLoss/dOut; σ′ = 1 factors are left out.
  function pathFactors(path, kind, isBias) {
    if (Number(state.svg.dataset.samples) > 1) return null; // means do not multiply
    const names = [];
    const values = [];
    if (kind === "node" || (kind === "weight" && !isBias)) {
      const input = state.nodes.get(path.nodes[0]);
      if (!input) return null;
      names.push(path.nodes[0]);
      values.push(input.dataset.value);
    }
    const weights = kind === "weight" && !isBias ? path.weights.slice(1) : path.weights;
    for (const weight of weights) {
      const edge = state.edges.get(weight);
      if (!edge) return null;
      names.push(weight);
      values.push(edge.dataset.value);
    }
    // sigma' of every neuron after the path's start (a bias's path starts at its neuron).
    for (const name of path.nodes.slice(kind === "weight" && isBias ? 0 : 1)) {
      const node = state.nodes.get(name);
      if (!node) return null;
      if (Number(node.dataset.derivative) !== 1) {
        names.push(`σ′(${name})`);
        values.push(node.dataset.derivative);
      }
    }
    const out = state.nodes.get(path.nodes[path.nodes.length - 1]);
    if (!out) return null;
    names.push(`∂Loss/∂${out.dataset.node}`);
    values.push(lossDerivative(out));
    if (names.length > 8) return null; // a long product says less than its value
    return `= ${names.join(" · ")} = ${values.map(factor).join(" · ")}`;
  }

  function lossDerivative(out) {
    const delta = Number(out.dataset.delta);
    const derivative = Number(out.dataset.derivative);
    return derivative ? delta / derivative : NaN;
  }

  function showSum(page, kind, name, flow) {
    const listed = page.paths.length;
    const bound = Math.max(0, page.abs_sum - page.listed_abs_sum);
    const total = kind === "weight" ? page.gradient : flow.flow;
    const what = kind === "weight" ? `dLoss/d${name}` : `the flow through ${name}`;
    const sum = $("paths-sum");
    if (page.next_cursor === null && listed === page.total_paths) {
      sum.textContent = `Sum of the ${count(listed)} paths = ${fmt(page.listed_sum)} = ${what}`
        + (kind === "weight" ? ` (backprop: ${fmt(total)}).` : ".");
    } else {
      sum.textContent = `The ${count(listed)} largest of ${count(page.total_paths)} paths add up to `
        + `${fmt(page.listed_sum)}; ${what} = ${fmt(total)}. The paths not listed can add at most `
        + `${fmt(bound)}: |${what} − ${fmt(page.listed_sum)}| ≤ ${fmt(bound)}.`;
    }
    sum.dataset.listedSum = String(page.listed_sum);
    sum.dataset.remainderBound = String(bound);
  }

  async function showFormula(name, page, ticket) {
    const box = $("formula");
    if (page.total_paths > FORMULA_PATHS) {
      box.replaceChildren(span("intro", `No formula: ${name} has ${count(page.total_paths)} `
        + `paths, and a formula is written out up to ${FORMULA_PATHS} paths.`));
      return;
    }
    try {
      const formula = await getJson(`/v1/jobs/${enc(state.job)}/weights/${enc(name)}/formula`);
      if (ticket !== state.ticket) return;
      const math = formula.mathml ? parseMath(formula.mathml) : null;
      const label = document.createElement("p");
      label.className = "intro";
      label.textContent = `dLoss/d${name}, one term per path (inside the parentheses):`;
      if (math) math.setAttribute("alttext", formula.text);
      box.replaceChildren(label, math || span("text", formula.text));
    } catch (error) {
      if (ticket !== state.ticket) return;
      box.replaceChildren(span("intro", error instanceof Problem
        ? `No formula: ${error.message}.` : String(error)));
    }
  }

  function parseMath(text) {
    const parsed = new DOMParser().parseFromString(text, "application/xml");
    const root = parsed.documentElement;
    if (root.namespaceURI !== MATHML || root.localName !== "math") return null;
    return document.importNode(root, true);
  }

  // --- the delta recursion along the listed paths --------------------------------------

  // The neurons to explain: every one on the listed paths after the selection, or, when
  // they are many, those of one path (the one followed: rank 1 until another is clicked).
  function explained(page, kind, name, rank) {
    const isBias = name.startsWith("b_");
    const first = kind === "weight" && !isBias ? 1 : 0;
    const neurons = (paths) => paths.flatMap((path) => path.nodes.slice(
      kind === "node" ? path.nodes.indexOf(name) : first));
    const all = new Set(neurons(page.paths));
    if (all.size <= STEPS_ALL) return { paths: page.paths, along: null };
    const path = page.paths.find((p) => p.rank === rank) || page.paths[0];
    return { paths: path ? [path] : [], along: path ? path.rank : null };
  }

  function follow(rank) {
    const selection = state.selection;
    if (!selection || !state.page) return;
    showSteps(state.page, selection.kind, state.page.weight || selection.name, rank);
  }

  function showSteps(page, kind, name, rank) {
    const steps = $("steps");
    steps.replaceChildren();
    const isBias = name.startsWith("b_");
    const first = kind === "weight" && !isBias ? 1 : 0; // the first neuron to explain
    const chosen = explained(page, kind, name, rank);
    for (const element of $("paths").children) {
      const followed = chosen.along !== null && Number(element.dataset.pathRank) === chosen.along;
      element.classList.toggle("followed", followed);
      element.classList.toggle("follow", chosen.along !== null);
      element.tabIndex = chosen.along !== null ? 0 : -1;
    }
    $("steps-along").textContent = chosen.along === null ? "Along every path listed:"
      : `Along path ${chosen.along} (click another path to follow it):`;
    const explain = new Map(); // layer -> neurons on the paths, from the selection on
    for (const path of chosen.paths) {
      const from = kind === "node" ? path.nodes.indexOf(name) : first;
      for (const node of path.nodes.slice(from)) {
        const element = state.nodes.get(node);
        if (!element) continue;
        const layer = Number(element.dataset.layer);
        if (layer === 0) continue; // an input has no δ of its own to compute
        if (!explain.has(layer)) explain.set(layer, new Set());
        explain.get(layer).add(element);
      }
    }
    const depth = state.svg.dataset.layers.split(",").length - 1;
    const layers = [...explain.keys()].sort((a, b) => b - a);
    const onPaths = new Set(chosen.paths.flatMap((path) => path.weights));
    for (const layer of layers) {
      const neurons = [...explain.get(layer)].sort((a, b) => a.dataset.index - b.dataset.index);
      for (const neuron of neurons) {
        steps.append(layer === depth ? outputStep(neuron) : hiddenStep(neuron, layer, onPaths));
      }
    }
    if (kind === "weight") steps.append(finalStep(name));
    if (Number(state.svg.dataset.samples) > 1) {
      steps.append(item([span("note", "Means over the mini-batch's samples: the recursion holds "
        + "sample by sample, so the means need not multiply exactly.")]));
    }
  }

  function outputStep(out) {
    const name = out.dataset.node;
    let rule = state.svg.dataset.lossRule.replaceAll("Out", name)
      .replaceAll("Y", name === "Out" ? "Y" : `Y${name.slice(3)}`).replaceAll(" - ", " − ");
    if (!/^\w+\([^()]*\)$/.test(rule)) rule = `(${rule})`; // sign(Out − Y) needs none
    return item([
      delta(name), " = ∂Loss/∂", name, " · σ′(", name, ") = ", rule, " · σ′(", name, ")",
      span("numbers", `= ${factor(lossDerivative(out))} · ${factor(out.dataset.derivative)} = `
        + fmt(out.dataset.delta)),
    ]);
  }

  function hiddenStep(neuron, layer, onPaths) {
    const name = neuron.dataset.node;
    const next = Number(state.svg.dataset.layers.split(",")[layer + 1]);
    const all = state.edgesFrom.get(name) || [];
    const whole = state.mode === "whole" && all.length === next && next <= 6;
    const shown = whole ? all : all.filter((edge) => onPaths.has(edge.dataset.weight));
    const symbols = [];
    const numbers = [];
    let listed = 0;
    for (const edge of shown) {
      const target = state.nodes.get(edge.dataset.to);
      symbols.push(edge.dataset.weight, "·", delta(edge.dataset.to), " + ");
      numbers.push(`${factor(edge.dataset.value)}·${factor(target.dataset.delta)}`);
      listed += Number(edge.dataset.value) * Number(target.dataset.delta);
    }
    symbols.pop();
    const derivative = Number(neuron.dataset.derivative);
    const others = next - shown.length;
    if (others > 0) {
      const rest = derivative ? Number(neuron.dataset.delta) / derivative - listed : NaN;
      symbols.push(` + (${count(others)} more: the neurons off these paths)`);
      numbers.push(Number.isNaN(rest) ? "…" : factor(rest));
    }
    return item([
      delta(name), " = σ′(", name, ") · (", ...symbols, ")",
      span("numbers", `= ${factor(derivative)} · (${numbers.join(" + ")}) = `
        + fmt(neuron.dataset.delta)),
    ]);
  }

  function finalStep(name) {
    if (name.startsWith("b_")) {
      const node = state.nodes.get(name.slice(2));
      return item([`dLoss/d${name} = `, delta(name.slice(2)),
        span("numbers", `= ${fmt(node ? node.dataset.delta : NaN)}`)]);
    }
    const edge = state.edges.get(name);
    const source = state.nodes.get(edge.dataset.from);
    const target = state.nodes.get(edge.dataset.to);
    return item([
      `dLoss/d${name} = ${edge.dataset.from} · `, delta(edge.dataset.to),
      span("numbers", `= ${factor(source.dataset.value)} · ${factor(target.dataset.delta)} = `
        + `${fmt(edge.dataset.gradient)}: the sum of its paths`),
    ]);
  }

  function delta(name) {
    const element = document.createElement("span");
    const sub = document.createElement("sub");
    sub.textContent = name;
    element.append("δ", sub);
    return element;
  }

  // --- the answer box ----------------------------------------------------------------------

  async function check(event) {
    event.preventDefault();
    const selection = state.selection;
    const given = $("answer").value.trim();
    const feedback = $("feedback");
    if (!selection || selection.kind !== "weight" || !given) return;
    feedback.className = "feedback";
    feedback.textContent = "Checking…";
    try {
      state.network = state.network || await getJson(`/explore/jobs/${enc(state.job)}/network`);
      const response = await request("/v1/grade", {
        method: "POST",
        json: { network: state.network.network, options: state.network.options,
          answers: { [selection.name]: given }, ask: [selection.name] },
      });
      if (!response.ok) throw new Problem(response.status, await problemOf(response));
      const graded = (await response.json()).answers[0];
      feedback.textContent = `${graded.correct ? "Correct. " : ""}${graded.feedback}`;
      feedback.className = `feedback ${graded.correct ? "good" : "bad"}`;
      feedback.dataset.diagnosis = graded.diagnosis;
      $("panel").classList.remove("quiz"); // answered: the solution may be seen
    } catch (error) {
      feedback.textContent = error instanceof Problem ? `Could not grade: ${error.message}` : String(error);
      feedback.className = "feedback bad";
    }
  }

  // --- hover, click, keyboard --------------------------------------------------------------

  function target(event) {
    return event.target instanceof Element ? event.target.closest("[data-node], [data-weight]") : null;
  }

  function describe(element) {
    if (element.dataset.weight) {
      const d = element.dataset;
      return `${d.weight}: the weight from ${d.from} to ${d.to}. Value ${fmt(d.value)}; `
        + `gradient dLoss/d${d.weight} = ${fmt(d.gradient)}.`;
    }
    const d = element.dataset;
    if (d.layer === "0") return `${d.node}: input, value ${fmt(d.value)}.`;
    return `${d.node}: value ${fmt(d.value)}; gradient δ = dLoss/dz = ${fmt(d.delta)}`
      + ` (also dLoss/db_${d.node}); σ′ = ${fmt(d.derivative)}`
      + (d.target !== undefined ? `; target ${fmt(d.target)}.` : ".");
  }

  function pick(element) {
    if (element.dataset.weight) select("weight", element.dataset.weight);
    else select("node", element.dataset.node);
  }

  function wire() {
    const drawing = $("drawing");
    const show = (event) => {
      const element = target(event);
      if (element) $("details").textContent = describe(element);
    };
    drawing.addEventListener("mouseover", show);
    drawing.addEventListener("focusin", show);
    drawing.addEventListener("click", (event) => {
      const element = target(event);
      if (element) pick(element);
    });
    drawing.addEventListener("keydown", (event) => {
      const element = target(event);
      if (element && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        pick(element);
      }
    });
    $("choose").addEventListener("submit", (event) => {
      event.preventDefault();
      const selection = parseSelection($("choose-name").value);
      if (selection && state.job) select(selection.kind, selection.name);
    });
    $("answer-form").addEventListener("submit", check);
    $("quiz").addEventListener("change", () => {
      const weight = state.selection && state.selection.kind === "weight";
      $("panel").classList.toggle("quiz", weight && $("quiz").checked);
    });
    $("open-seed").addEventListener("click", () => openSeed().catch(fail));
    $("open-job").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("job-id").value.trim();
      if (!id) return;
      history.pushState(null, "", `/explore?job=${enc(id)}`);
      openJob(id, null).catch(fail);
    });
    $("network-file").addEventListener("change", async () => {
      const file = $("network-file").files[0];
      if (file) $("network-text").value = await file.text();
    });
    $("open-paste").addEventListener("submit", (event) => {
      event.preventDefault();
      let network;
      try {
        network = JSON.parse($("network-text").value);
      } catch (error) {
        say(`That is not JSON: ${error.message}`, true);
        return;
      }
      const job = network && network.network ? network : { network, options: {} };
      $("paste").open = false;
      submit(job.network, job.options || {}, "your network").catch(fail);
    });
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, $("api-key").value.trim());
      $("key-form").hidden = true;
      fromAddress().catch(fail);
    });
    window.addEventListener("popstate", () => fromAddress().catch(fail));
  }

  async function fromAddress() {
    const params = new URLSearchParams(location.search);
    const job = params.get("job");
    const selection = params.get("weight") ? { kind: "weight", name: params.get("weight") }
      : params.get("node") ? { kind: "node", name: params.get("node") } : null;
    if (!job) return openSeed();
    if (job === state.job && state.svg) {
      if (selection) return select(selection.kind, selection.name, { push: false });
      return openJob(job, null);
    }
    return openJob(job, selection);
  }

  // --- small things ------------------------------------------------------------------------

  function span(cls, text) {
    const element = document.createElement("span");
    element.className = cls;
    element.textContent = text;
    return element;
  }

  function item(parts) {
    const element = document.createElement("li");
    element.append(...parts);
    return element;
  }

  // Four significant digits, as the drawing writes them (2.3099999999999996 -> 2.31).
  function fmt(value) {
    if (value === null || value === undefined || value === "") return "—";
    const number = Number(value);
    if (Number.isNaN(number)) return typeof value === "string" ? value : "—";
    if (number === 0) return "0";
    const text = Math.abs(number) >= 1e5 || Math.abs(number) < 1e-4
      ? number.toExponential(3).replace(/\.?0+e/, "e") : String(Number(number.toPrecision(4)));
    return text.replace("-", "−");
  }

  // A number inside a product: a negative one in parentheses, (−0.5)·1.3.
  function factor(value) {
    const text = fmt(value);
    return text.startsWith("−") ? `(${text})` : text;
  }

  function count(n) {
    return Number(n).toLocaleString("en-US");
  }

  wire();
  fromAddress().catch(fail);
})();
