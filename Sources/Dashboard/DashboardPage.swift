/// The page: one self-contained HTML document (no external scripts, styles or fonts, so it
/// works offline and from a container). Its script polls `/api/state` and redraws in place;
/// every value goes through `textContent` or an attribute, never through HTML.
enum DashboardPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>agentic</title>
        <link rel="icon" href="data:,">
        <style>
          :root { --ink:#1d2330; --muted:#6b7385; --line:#d9dde6; --bg:#f6f7fa; --card:#fff;
                  --ok:#2f9e5b; --warn:#d99a1e; --bad:#d2453b; --accent:#3867d6; --cand:#8e44ad; }
          * { box-sizing: border-box; }
          body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--ink); background:var(--bg); }
          header { padding:14px 22px; background:var(--card); border-bottom:1px solid var(--line); display:flex; flex-wrap:wrap; gap:6px 22px; align-items:baseline; }
          header h1 { font-size:18px; margin:0; }
          #summary span { margin-right:16px; color:var(--muted); }
          #summary b { color:var(--ink); font-weight:600; }
          #banner { width:100%; padding:6px 10px; background:#fde8e6; color:var(--bad); border-radius:4px; }
          main { padding:16px 22px; display:grid; gap:16px; grid-template-columns: minmax(0,1fr) minmax(0,1fr); }
          section { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px 14px; min-width:0; }
          section.wide { grid-column: 1 / -1; }
          h2 { font-size:14px; margin:0 0 8px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
          svg text { font:12px system-ui, sans-serif; fill:var(--ink); }
          .node rect { fill:#fff; stroke:#8a93a6; stroke-width:1.2; rx:6; }
          .node.candidate rect { stroke:var(--cand); stroke-dasharray:5 3; stroke-width:1.8; }
          .node.retiring rect { stroke:var(--muted); stroke-dasharray:2 3; opacity:.7; }
          .node.io rect { fill:#fff4d6; stroke:#c9a44a; }
          .node.store rect { fill:#eef3ff; stroke:var(--accent); }
          .node .title { font-weight:600; }
          .node .sub { fill:var(--muted); }
          .edge { fill:none; stroke:#8a93a6; stroke-width:1.3; }
          .edge.store { stroke:var(--accent); stroke-dasharray:5 4; }
          .edge.candidate { stroke:var(--cand); stroke-dasharray:5 3; }
          table { border-collapse:collapse; width:100%; font-variant-numeric: tabular-nums; }
          th, td { text-align:left; padding:3px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
          th { color:var(--muted); font-weight:500; }
          td.num { text-align:right; }
          .state-serving { color:var(--ok); } .state-starting, .state-draining { color:var(--warn); }
          .state-failed, .state-stopped { color:var(--bad); }
          ol#epochs { list-style:none; padding:0; margin:0; max-height:320px; overflow:auto; }
          ol#epochs > li { padding:6px 0; border-bottom:1px solid var(--line); }
          ol#epochs > li.current b { color:var(--accent); }
          ol#epochs ul { margin:2px 0 0 0; padding-left:18px; color:var(--muted); font-family:ui-monospace, monospace; font-size:12px; }
          .muted { color:var(--muted); }
          .decision-promote { color:var(--ok); } .decision-rollback, .decision-gate_failed { color:var(--bad); } .decision-stop { color:var(--warn); }
          footer { padding:4px 22px 16px; color:var(--muted); font-size:12px; }
        </style>
        </head>
        <body>
        <header>
          <h1>agentic <span id="name"></span></h1>
          <div id="summary"></div>
          <div id="banner" hidden></div>
        </header>
        <main>
          <section class="wide"><h2>Topology</h2><svg id="graph" width="100%" role="img" aria-label="topology graph"></svg></section>
          <section><h2>Online reward</h2><svg id="reward" width="560" height="200" role="img" aria-label="online reward over time"></svg><p id="reward-note" class="muted"></p></section>
          <section><h2>Experiments</h2><p id="experiment" class="muted"></p><table id="experiments"></table></section>
          <section class="wide"><h2>Instances</h2><table id="instances"></table></section>
          <section class="wide"><h2>Epochs</h2><ol id="epochs"></ol></section>
        </main>
        <footer id="footer"></footer>
        <script>
        "use strict";
        const SVG = "http://www.w3.org/2000/svg";
        const loadedAt = performance.now();
        let firstData = null;

        function node(tag, attributes, text, namespace) {
          const element = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
          for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, String(value));
          if (text !== undefined && text !== null) element.textContent = String(text);
          return element;
        }
        function svg(tag, attributes, text) { return node(tag, attributes, text, SVG); }
        function clear(element) { while (element.firstChild) element.removeChild(element.firstChild); return element; }
        function micros(us) { return us >= 1000 ? (us / 1000).toFixed(1) + " ms" : Math.round(us) + " µs"; }
        function seconds(s) { return s >= 3600 ? (s / 3600).toFixed(1) + " h" : s >= 60 ? Math.floor(s / 60) + " min" : Math.round(s) + " s"; }
        function clock(ms) { return new Date(ms).toLocaleTimeString(); }

        function banner(text) {
          const element = document.getElementById("banner");
          element.hidden = !text;
          element.textContent = text || "";
        }

        function renderSummary(view) {
          document.title = "agentic · " + (view.name || "?") + " · epoch " + view.epoch;
          document.getElementById("name").textContent = view.name ? "· " + view.name : "";
          const summary = clear(document.getElementById("summary"));
          const part = (label, value, id) => {
            const span = node("span", id ? { id } : {}, label + " ");
            span.appendChild(node("b", {}, value));
            summary.appendChild(span);
          };
          part("epoch", view.epoch, "epoch");
          part("state", view.state);
          part("agents", view.agents.filter(a => a.role === "serving").length);
          part("instances", view.agents.reduce((n, a) => n + a.instances.length, 0));
          if (view.gateway) part("gateway", view.gateway);
          part("run", view.run_dir);
          part("updated", new Date(view.time * 1000).toLocaleTimeString());
          banner(view.reachable ? "" : (view.error || "the cluster does not answer"));
        }

        // Columns by longest path from the gateway; agents outside the request graph (the
        // store, a trainer) get a row of their own below.
        function layoutGraph(view) {
          const names = [...new Set(view.agents.map(a => a.name))];
          const level = new Map(view.entry.map(name => [name, 1]));
          for (let round = 0; round < names.length + 1; round++) {
            for (const edge of view.edges) {
              if (level.has(edge.from)) level.set(edge.to, Math.max(level.get(edge.to) || 0, level.get(edge.from) + 1));
            }
          }
          const columns = new Map();
          const outside = [];
          for (const agent of view.agents) {
            const column = level.get(agent.name);
            if (column === undefined) { outside.push(agent); continue; }
            if (!columns.has(column)) columns.set(column, []);
            columns.get(column).push(agent);
          }
          return { columns, outside, last: Math.max(1, ...level.values()) };
        }

        function renderGraph(view) {
          const graph = clear(document.getElementById("graph"));
          const defs = svg("defs");
          for (const [id, color] of [["arrow", "#8a93a6"], ["arrow-store", "#3867d6"], ["arrow-cand", "#8e44ad"]]) {
            const marker = svg("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
            marker.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: color }));
            defs.appendChild(marker);
          }
          graph.appendChild(defs);
          const W = 184, H = 74, GAP_X = 48, GAP_Y = 16, PAD = 16;
          const { columns, outside, last } = layoutGraph(view);
          const box = new Map();
          let height = 0;
          const place = (key, column, row, extraY) => {
            const x = PAD + column * (W + GAP_X), y = PAD + (extraY || 0) + row * (H + GAP_Y);
            box.set(key, { x, y });
            height = Math.max(height, y + H + PAD);
            return { x, y };
          };
          place("gateway:in", 0, 0);
          for (const [column, agents] of columns) agents.forEach((agent, row) => place(agent.name + "@" + agent.version, column, row));
          place("gateway:out", last + 1, 0);
          const rows = Math.max(1, ...[...columns.values()].map(list => list.length));
          outside.forEach((agent, index) => place(agent.name + "@" + agent.version, index, 0, rows * (H + GAP_Y) + 10));
          const width = PAD * 2 + (last + 2) * (W + GAP_X) - GAP_X;
          // Scaled to the section's width, never above natural size.
          const fullWidth = Math.max(width, outside.length * (W + GAP_X));
          graph.setAttribute("viewBox", "0 0 " + fullWidth + " " + height);
          graph.setAttribute("width", "100%");
          graph.removeAttribute("height");
          graph.style.maxWidth = fullWidth + "px";

          const versionsOf = name => view.agents.filter(a => a.name === name);
          const edge = (from, to, kind, label) => {
            const a = box.get(from), b = box.get(to);
            if (!a || !b) return;
            let d;
            if (b.y > a.y + H && Math.abs(b.x - a.x) < W) {
              d = `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${b.y - 20} ${b.x + W / 2},${a.y + H + 20} ${b.x + W / 2},${b.y}`;
            } else {
              const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
              d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
            }
            const path = svg("path", { d, class: "edge " + (kind || ""), "marker-end": kind === "store" ? "url(#arrow-store)" : kind === "candidate" ? "url(#arrow-cand)" : "url(#arrow)" });
            if (label) path.appendChild(svg("title", {}, label));
            graph.appendChild(path);
          };
          for (const entry of view.entry) for (const v of versionsOf(entry)) edge("gateway:in", entry + "@" + v.version, v.role === "candidate" ? "candidate" : "");
          for (const e of view.edges) {
            for (const a of versionsOf(e.from)) for (const b of versionsOf(e.to)) {
              const candidate = a.role === "candidate" || b.role === "candidate";
              if (a.role === "retiring" || b.role === "retiring") continue;
              if (candidate && a.role === "serving" && versionsOf(e.from).some(x => x.role === "candidate")) continue;
              edge(a.name + "@" + a.version, b.name + "@" + b.version, candidate ? "candidate" : "", e.segments ? "segments: " + e.segments.join(", ") : "");
            }
          }
          for (const v of versionsOf(view.exit)) edge(view.exit + "@" + v.version, "gateway:out", v.role === "candidate" ? "candidate" : "");
          if (view.store) for (const v of versionsOf(view.store)) edge("gateway:in", view.store + "@" + v.version, "store", "feedback and served lists");
          for (const a of view.agents.filter(a => a.kind === "trainer")) {
            for (const s of versionsOf(view.store || "")) edge(view.store + "@" + s.version, a.name + "@" + a.version, "store", "feedback pages");
          }

          const io = (key, title, sub) => {
            const { x, y } = box.get(key);
            const group = svg("g", { class: "node io", transform: `translate(${x},${y})` });
            group.appendChild(svg("rect", { width: W, height: H, rx: 6 }));
            group.appendChild(svg("text", { x: 10, y: 22, class: "title" }, title));
            group.appendChild(svg("text", { x: 10, y: 42, class: "sub" }, sub));
            graph.appendChild(group);
          };
          io("gateway:in", "gateway", view.gateway || "no gateway");
          io("gateway:out", "response", "answer of " + view.exit);
          const color = { serving: "#2f9e5b", starting: "#d99a1e", draining: "#d99a1e", failed: "#d2453b", stopped: "#d2453b" };
          for (const agent of view.agents) {
            const key = agent.name + "@" + agent.version, place = box.get(key);
            if (!place) continue;
            const kind = agent.kind === "store" ? "store" : agent.role;
            const group = svg("g", { class: "node " + kind, transform: `translate(${place.x},${place.y})`, "data-agent": agent.name, "data-version": agent.version, "data-role": agent.role });
            group.appendChild(svg("rect", { width: W, height: H, rx: 6 }));
            group.appendChild(svg("text", { x: 10, y: 18, class: "title" }, agent.name + (agent.role === "serving" ? "" : " (" + agent.role + ")")));
            group.appendChild(svg("text", { x: 10, y: 35, class: "sub" }, agent.kind + " · v" + agent.version));
            group.appendChild(svg("text", { x: 10, y: 52 }, agent.throughput.toFixed(1) + "/s · p99 " + micros(agent.latency_p99_us)));
            agent.instances.forEach((instance, index) => {
              const dot = svg("circle", { cx: 14 + index * 14, cy: 64, r: 5, fill: color[instance.state] || "#8a93a6" });
              dot.appendChild(svg("title", {}, "replica " + instance.replica + ": " + instance.state + ", pid " + instance.pid));
              group.appendChild(dot);
            });
            if (agent.restarts > 0) group.appendChild(svg("text", { x: W - 10, y: 68, "text-anchor": "end", fill: "#d2453b" }, "↻ " + agent.restarts));
            graph.appendChild(group);
          }
        }

        function renderInstances(view) {
          const table = clear(document.getElementById("instances"));
          const head = node("tr");
          for (const title of ["agent", "replica", "kind", "version", "role", "state", "pid", "uptime", "restarts", "served", "failed", "per s", "p99"]) head.appendChild(node("th", {}, title));
          table.appendChild(head);
          for (const agent of view.agents) for (const instance of agent.instances) {
            const row = node("tr", { "data-instance": agent.name + "@" + agent.version + "#" + instance.replica });
            const cells = [
              [agent.name], [instance.replica, "num"], [agent.kind], [agent.version], [agent.role],
              [instance.state, "state-" + instance.state], [instance.pid || "-", "num"], [seconds(instance.uptime_s), "num"],
              [instance.restarts, "num"], [instance.served, "num"], [instance.failed, "num"],
              [instance.throughput.toFixed(1), "num"], [micros(instance.latency_p99_us), "num"],
            ];
            for (const [value, cls] of cells) row.appendChild(node("td", cls ? { class: cls } : {}, value));
            table.appendChild(row);
          }
        }

        function renderEpochs(view) {
          const list = clear(document.getElementById("epochs"));
          for (const record of view.epochs) {
            const item = node("li", { "data-epoch": record.epoch, class: record.epoch === view.epoch ? "current" : "" });
            item.appendChild(node("b", {}, "epoch " + record.epoch));
            item.appendChild(document.createTextNode("  " + new Date(record.time).toLocaleString() + " — " + record.reason));
            if (record.changes.length) {
              const changes = node("ul");
              for (const change of record.changes) changes.appendChild(node("li", {}, change));
              item.appendChild(changes);
            }
            list.appendChild(item);
          }
        }

        function renderExperiments(view) {
          const live = document.getElementById("experiment");
          live.textContent = view.experiment
            ? view.experiment.experiment + " running: " + Math.round(view.experiment.share * 100) + " % of traffic to " + view.experiment.candidates.join(", ")
            : "no experiment running";
          const table = clear(document.getElementById("experiments"));
          if (!view.experiments.length) return;
          const head = node("tr");
          for (const title of ["experiment", "proposal", "decision", "started", "took"]) head.appendChild(node("th", {}, title));
          table.appendChild(head);
          for (const record of view.experiments) {
            const row = node("tr", { "data-experiment": record.experiment });
            const decision = record.decision || "running";
            const verdict = decision.split(":")[0];
            row.appendChild(node("td", {}, record.experiment));
            row.appendChild(node("td", { title: record.proposal }, record.proposal.length > 48 ? record.proposal.slice(0, 47) + "…" : record.proposal));
            row.appendChild(node("td", { class: "decision-" + verdict, title: decision }, verdict));
            row.appendChild(node("td", {}, clock(record.created_at)));
            row.appendChild(node("td", { class: "num" }, record.decided_at ? seconds((record.decided_at - record.created_at) / 1000) : "…"));
            table.appendChild(row);
          }
        }

        // Each bucket's share of lists with a positive reaction, with its 95 % Wilson interval.
        function renderReward(view) {
          const chart = clear(document.getElementById("reward"));
          const note = document.getElementById("reward-note");
          const reward = view.reward;
          const buckets = reward ? reward.buckets : [];
          chart.style.display = buckets.length ? "" : "none";
          if (!buckets.length) { note.textContent = reward && reward.note ? reward.note : "no reward yet"; return; }
          const W = 560, H = 200, L = 40, R = 10, T = 10, B = 28;
          const wilson = (k, n) => {
            const z = 1.96, p = k / n, d = 1 + z * z / n, c = (p + z * z / (2 * n)) / d, h = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
            return [Math.max(0, c - h), Math.min(1, c + h)];
          };
          const t0 = buckets[0].start, t1 = Math.max(buckets[buckets.length - 1].start, t0 + 1);
          const x = t => L + (t - t0) / (t1 - t0) * (W - L - R);
          const top = Math.min(1, Math.max(0.1, ...buckets.map(b => wilson(b.lists_clicked, b.lists)[1])));
          const y = v => H - B - v / top * (H - T - B);
          chart.appendChild(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#8a93a6" }));
          for (const tick of [0, top / 2, top]) {
            chart.appendChild(svg("text", { x: L - 4, y: y(tick) + 4, "text-anchor": "end" }, tick.toFixed(2)));
            chart.appendChild(svg("line", { x1: L, y1: y(tick), x2: W - R, y2: y(tick), stroke: "#eceef3" }));
          }
          chart.appendChild(svg("text", { x: L, y: H - 8 }, clock(t0)));
          chart.appendChild(svg("text", { x: W - R, y: H - 8, "text-anchor": "end" }, clock(t1)));
          const band = buckets.map(b => [x(b.start), y(wilson(b.lists_clicked, b.lists)[1])])
            .concat(buckets.slice().reverse().map(b => [x(b.start), y(wilson(b.lists_clicked, b.lists)[0])]));
          chart.appendChild(svg("polygon", { points: band.map(p => p.join(",")).join(" "), fill: "#3867d6", opacity: 0.12 }));
          chart.appendChild(svg("polyline", { points: buckets.map(b => x(b.start) + "," + y(b.lists_clicked / b.lists)).join(" "), fill: "none", stroke: "#3867d6", "stroke-width": 1.8 }));
          let epoch = buckets[0].epoch;
          for (const b of buckets) {
            if (b.epoch !== epoch) {
              epoch = b.epoch;
              chart.appendChild(svg("line", { x1: x(b.start), y1: T, x2: x(b.start), y2: H - B, stroke: "#8e44ad", "stroke-dasharray": "3 3" }));
              chart.appendChild(svg("text", { x: x(b.start) + 3, y: T + 10, fill: "#8e44ad" }, "epoch " + epoch));
            }
          }
          const lists = buckets.reduce((n, b) => n + b.lists, 0), clicked = buckets.reduce((n, b) => n + b.lists_clicked, 0);
          note.textContent = "share of served lists with a click per " + reward.bucket_s + " s (band: 95 % interval); "
            + clicked + " of " + lists + " lists in view (" + (100 * clicked / lists).toFixed(1) + " %)";
        }

        function render(view) {
          renderSummary(view);
          renderGraph(view);
          renderInstances(view);
          renderEpochs(view);
          renderExperiments(view);
          renderReward(view);
          if (firstData === null) {
            firstData = performance.now() - loadedAt;
            document.body.setAttribute("data-first-data-ms", firstData.toFixed(0));
          }
          const paint = performance.getEntriesByName("first-contentful-paint")[0];
          document.getElementById("footer").textContent = "first data drawn " + firstData.toFixed(0) + " ms after load"
            + (paint ? " · first paint " + paint.startTime.toFixed(0) + " ms" : "") + " · page loads " + view.page_loads
            + " · updates every second";
        }

        async function poll() {
          try {
            const response = await fetch("/api/state", { cache: "no-store" });
            if (!response.ok) throw new Error("HTTP " + response.status);
            render(await response.json());
          } catch (error) {
            banner("the dashboard's server does not answer (" + error.message + ")");
          }
          setTimeout(poll, 1000);
        }
        poll();
        </script>
        </body>
        </html>
        """#
}
