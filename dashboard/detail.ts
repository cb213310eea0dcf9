/**
 * The circuit view: state, counters, the config form (config-form.ts), the transition and
 * config history (GetHistory, fetched on open and after every transition or
 * config change of this circuit), the failure-rate sparkline, and the admin
 * actions. Admin actions that the server refuses for want of a key open the
 * key dialog and are retried with the key given.
 */
import type { Duration } from "@bufbuild/protobuf/wkt";
import { Pin, type CircuitConfig, type CircuitStatus, type HistoryEntry } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { PROTO_CONFIG_FIELDS, type ProtoConfigField } from "../src/server/proto-config-fields.js";
import { api, describeError, keyProblem } from "./api.js";
import { ConfigForm } from "./config-form.js";
import { clockTime, count, duration, ms, percent, stateLabel, stateName, transitionWho } from "./format.js";
import { stateLine } from "./tile.js";
import { askForKey, keyReason } from "./key-dialog.js";
import type { Model } from "./model.js";
import { renderSparkline } from "./sparkline.js";

type Action = "reset" | "force-open" | "disable" | "release";

const ACTIONS: Readonly<Record<Action, { what: string; done: string; run: (circuit: string) => Promise<{ status?: CircuitStatus }> }>> = {
  reset: { what: "reset the circuit", done: "Reset to CLOSED", run: (circuit) => api.reset({ circuit }) },
  "force-open": {
    what: "force the circuit open",
    done: "Forced open: every call is denied until released",
    run: (circuit) => api.forceState({ circuit, pin: Pin.FORCED_OPEN }),
  },
  disable: {
    what: "disable the circuit",
    done: "Disabled: every call is allowed until released",
    run: (circuit) => api.forceState({ circuit, pin: Pin.DISABLED }),
  },
  release: { what: "release the circuit", done: "Released to CLOSED", run: (circuit) => api.forceState({ circuit, pin: Pin.NONE }) },
};

function $(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`dashboard: #${id} missing from index.html`);
  return node;
}

function fillKv(dl: HTMLElement, rows: readonly [string, string][]): void {
  const nodes: HTMLElement[] = [];
  for (const [k, v] of rows) {
    const wrap = document.createElement("div");
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    wrap.append(dt, dd);
    nodes.push(wrap);
  }
  dl.replaceChildren(...nodes);
}

/** One config value as an operator reads it ("30s", "25%", "0 (off)"); "–" when the server did not send it. */
function configValue({ spec, enum: values }: ProtoConfigField, value: unknown): string {
  if (value === undefined) return "–";
  switch (spec.kind) {
    case "duration": {
      const v = ms(value as Duration);
      return v === undefined ? "–" : v === 0 && spec.zeroMeans !== undefined ? `0 (${spec.zeroMeans})` : duration(v);
    }
    case "enum":
      return values?.valueOf.get(value as number) ?? String(spec.default);
    case "integer":
    case "number":
      if (spec.format === "percent") return percent(value as number);
      return value === 0 && spec.zeroMeans !== undefined ? `0 (${spec.zeroMeans})` : String(value);
    default:
      return String(value);
  }
}

/** The resolved config as rows, one per field of the config table, in its order (that of the README's table). */
function configRows(c: CircuitConfig): [string, string][] {
  const message = c as unknown as Readonly<Record<string, unknown>>;
  return PROTO_CONFIG_FIELDS.map((field) => [field.spec.name, configValue(field, message[field.localName])]);
}

function fingerprint(c: CircuitConfig): string {
  return configRows(c)
    .map(([k, v]) => `${k}=${v}`)
    .join(";");
}

/** "failure_threshold 5 → 3, open_duration 1m → 30s": the fields a config change changed. */
function configDiff(before: CircuitConfig | undefined, after: CircuitConfig | undefined): string {
  if (before === undefined || after === undefined) return "";
  const a = new Map(configRows(before));
  const changed = configRows(after).filter(([k, v]) => a.get(k) !== v);
  return changed.length === 0 ? "no field changed" : changed.map(([k, v]) => `${k} ${a.get(k)} → ${v}`).join(", ");
}

export class DetailView {
  private name: string | undefined;
  private configSeen = "";
  private historyToken = 0;
  private busy = false;
  private readonly configForm: ConfigForm;

  constructor(private readonly model: Model) {
    this.configForm = new ConfigForm((status) => {
      this.model.status(status);
      void this.loadHistory();
    });
    for (const button of document.querySelectorAll<HTMLButtonElement>("#detail-view [data-action]")) {
      button.addEventListener("click", () => void this.act(button.dataset.action as Action, button));
    }
  }

  get circuit(): string | undefined {
    return this.name;
  }

  /** Opens the view of `name` and moves focus to its heading. */
  open(name: string): void {
    this.name = name;
    this.configSeen = "";
    $("detail-view").dataset.circuit = name;
    $("detail-title").textContent = name;
    $("action-result").textContent = "";
    $("history").replaceChildren();
    $("history-note").textContent = "Loading…";
    this.configForm.open(name);
    this.render();
    void this.loadHistory();
    $("detail-title").focus();
  }

  close(): void {
    this.name = undefined;
    delete $("detail-view").dataset.circuit;
  }

  /** Called on every model change of this circuit. */
  changed(transition: boolean): void {
    if (this.name === undefined) return;
    const status = this.model.circuits.get(this.name)?.status;
    const config = status?.config === undefined ? "" : fingerprint(status.config);
    const configChanged = this.configSeen !== "" && config !== this.configSeen;
    this.render();
    if (transition || configChanged) void this.loadHistory();
  }

  /** Once a second: the countdown and the sparkline's time axis. */
  tick(): void {
    if (this.name === undefined) return;
    const entry = this.model.circuits.get(this.name);
    if (entry === undefined) return;
    $("detail-since").textContent = this.sinceLine();
    renderSparkline($("sparkline"), entry.samples, entry.status?.config?.failureRateThreshold ?? 0, Date.now());
  }

  private sinceLine(): string {
    const entry = this.name === undefined ? undefined : this.model.circuits.get(this.name);
    if (entry === undefined) return "Not known to the server (yet).";
    const parts: string[] = [];
    if (entry.since !== undefined) {
      parts.push(`${stateLabel(entry.state)} since ${clockTime(entry.since)} (${duration(Math.max(0, this.model.storeNow() - entry.since))} ago)`);
    }
    const line = stateLine(entry, this.model.storeNow());
    if (line !== "") parts.push(line);
    parts.push(`generation ${entry.generation}`);
    return parts.join(" · ");
  }

  private render(): void {
    if (this.name === undefined) return;
    const entry = this.model.circuits.get(this.name);
    const badge = $("detail-badge");
    badge.textContent = entry === undefined ? "UNKNOWN" : stateLabel(entry.state);
    $("detail-view").dataset.state = entry?.state ?? "UNKNOWN";
    const s = entry?.stats;
    fillKv(
      $("detail-stats"),
      s === undefined
        ? []
        : [
            ["Failure rate", percent(s.failureRate)],
            ["Slow-call rate", percent(s.slowCallRate)],
            ["Calls in window", count(s.windowCalls)],
            ["Failures in window", count(s.windowFailures)],
            ["Slow calls in window", count(s.windowSlowCalls)],
            ["Failures in a row", count(s.consecutiveFailures)],
            ["Probes out / succeeded", `${s.halfOpenInFlight} / ${s.halfOpenSuccesses}`],
            ["Rejected (total)", count(s.totalRejections)],
            ["Successes (total)", count(s.totalSuccesses)],
            ["Failures (total)", count(s.totalFailures)],
            ["Timeouts (total)", count(s.totalTimeouts)],
            ["Ignored (total)", count(s.totalIgnored)],
            ["Re-opened in a row", count(s.reopenCount)],
          ],
    );
    const config = entry?.status?.config;
    if (config !== undefined) this.configSeen = fingerprint(config);
    this.configForm.show(entry?.status);
    this.tick();
  }

  private async loadHistory(): Promise<void> {
    const name = this.name;
    if (name === undefined) return;
    const token = ++this.historyToken;
    try {
      const res = await api.getHistory({ circuit: name, pageSize: 50 });
      if (token !== this.historyToken || this.name !== name) return;
      $("history").replaceChildren(...res.entries.map((e) => historyRow(e)));
      $("history-note").textContent = res.entries.length === 0 ? "No transitions or config changes yet." : `Newest first, last ${res.entries.length}.`;
    } catch (err) {
      if (token !== this.historyToken) return;
      $("history-note").textContent = `Could not load the history: ${describeError(err)}`;
    }
  }

  private async act(action: Action, button: HTMLButtonElement): Promise<void> {
    const name = this.name;
    if (name === undefined || this.busy) return;
    const spec = ACTIONS[action];
    const result = $("action-result");
    this.busy = true;
    button.setAttribute("aria-busy", "true");
    result.dataset.outcome = "pending";
    result.textContent = `${spec.what[0]!.toUpperCase()}${spec.what.slice(1)}…`;
    try {
      for (;;) {
        try {
          const res = await spec.run(name);
          if (res.status !== undefined) this.model.status(res.status);
          result.dataset.outcome = "ok";
          result.textContent = `${spec.done} at ${clockTime(Date.now())}.`;
          void this.loadHistory();
          return;
        } catch (err) {
          const problem = keyProblem(err);
          if (problem === undefined) throw err;
          result.dataset.outcome = "refused";
          result.textContent = `Refused: ${describeError(err)}`;
          if (!(await askForKey(keyReason(problem, spec.what, describeError(err))))) return;
        }
      }
    } catch (err) {
      result.dataset.outcome = "error";
      result.textContent = `Failed: ${describeError(err)}`;
    } finally {
      this.busy = false;
      button.removeAttribute("aria-busy");
    }
  }
}

function historyRow(e: HistoryEntry): HTMLTableRowElement {
  const tr = document.createElement("tr");
  const cell = (text: string): HTMLTableCellElement => {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
    return td;
  };
  switch (e.entry.case) {
    case "transition": {
      const t = e.entry.value;
      const at = ms(t.at);
      cell(at === undefined ? "" : clockTime(at));
      const what = cell(`${stateLabel(stateName(t.fromState))} → ${stateLabel(stateName(t.toState))} (${t.reason})`);
      what.dataset.to = stateName(t.toState);
      cell(transitionWho(t));
      break;
    }
    case "configChange": {
      const c = e.entry.value;
      const at = ms(c.at);
      cell(at === undefined ? "" : clockTime(at));
      cell(`config of ${c.target}: ${configDiff(c.oldConfig, c.newConfig)}`);
      cell(c.actor);
      break;
    }
    default:
      cell("");
      cell("unknown entry");
      cell("");
  }
  return tr;
}
