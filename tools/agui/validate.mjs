// Check AG-UI events against @ag-ui/core's schemas: one event (JSON) per line on stdin, one line
// per event on stdout: {"type", "valid", "errors", "run_id"} (run_id as the parsed event keeps it:
// the schemas keep keys they do not name).
//
//   node validate.mjs < events.jsonl
import { EventSchemas } from "@ag-ui/core/schemas";
import { createInterface } from "node:readline";

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const data = JSON.parse(line);
  const parsed = EventSchemas.safeParse(data);
  const errors = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  const runId = parsed.success ? (parsed.data.run_id ?? null) : null;
  process.stdout.write(JSON.stringify({ type: data.type, valid: parsed.success, errors, run_id: runId }) + "\n");
}
