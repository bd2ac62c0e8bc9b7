// Follow a Threadline run's stream (GET /v1/runs/{id}/stream) with the WHATWG EventSource for
// node, as a browser would, and check every message's data against @ag-ui/core's schema for its
// type. One JSON line per message on stdout:
//   {"id", "type", "valid", "errors", "data"}
// then one last line {"end": <why>, "connections": <requests made>, "last_event_id": <id>}.
//
//   node follow.mjs <stream url> <api key> [--last-event-id ID] [--max-messages N] [--timeout S]
//
// It stops after RUN_FINISHED or RUN_ERROR ("finished"), when the server answers 204 or an
// error ("closed: <message>"), after N messages ("max-messages"), or after S seconds ("timeout").
// EventSource reconnects by itself after each window, sending Last-Event-ID; the API key goes in
// an Authorization header through a custom fetch (a browser's EventSource cannot send one).
import { EventSchemas } from "@ag-ui/core/schemas";
import { EventSource } from "eventsource";

const [url, apiKey, ...rest] = process.argv.slice(2);
if (!url || !apiKey) {
  console.error("usage: node follow.mjs <stream url> <api key> [--last-event-id ID] [--max-messages N] [--timeout S]");
  process.exit(2);
}
const option = (name, fallback) => {
  const at = rest.indexOf(name);
  return at >= 0 ? rest[at + 1] : fallback;
};
const firstLastEventId = option("--last-event-id", null);
const maxMessages = Number(option("--max-messages", "0"));
const timeoutSeconds = Number(option("--timeout", "60"));

let connections = 0;
let received = 0;
let lastEventId = firstLastEventId;

const source = new EventSource(url, {
  fetch: (input, init) => {
    connections += 1;
    const headers = { ...init.headers, Authorization: `Bearer ${apiKey}` };
    // EventSource sends Last-Event-ID only once it has seen an id: the first request resumes too.
    if (firstLastEventId && !("Last-Event-ID" in headers)) headers["Last-Event-ID"] = firstLastEventId;
    return fetch(input, { ...init, headers });
  },
});

const end = (why) => {
  source.close();
  clearTimeout(timer);
  process.stdout.write(JSON.stringify({ end: why, connections, last_event_id: lastEventId }) + "\n");
};
const timer = setTimeout(() => end("timeout"), timeoutSeconds * 1000);

source.onmessage = (message) => {
  let data = null;
  let parsed = { success: false, error: { issues: [{ message: "data is not JSON" }] } };
  try {
    data = JSON.parse(message.data);
    parsed = EventSchemas.safeParse(data);
  } catch {
    // reported as invalid below
  }
  lastEventId = message.lastEventId;
  received += 1;
  const errors = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path?.join(".") ?? ""}: ${issue.message}`);
  const type = data && typeof data === "object" ? data.type : null;
  process.stdout.write(JSON.stringify({ id: message.lastEventId, type, valid: parsed.success, errors, data }) + "\n");
  if (type === "RUN_FINISHED" || type === "RUN_ERROR") end("finished");
  else if (maxMessages && received >= maxMessages) end("max-messages");
};

source.onerror = (error) => {
  // A window that ends is no error (EventSource reconnects); a 204, a non-200 or a bad type is.
  if (source.readyState === source.CLOSED) end(`closed: ${error.code ?? ""} ${error.message ?? ""}`.trim());
};
