/**
 * Runs an admin call the way every admin action of the dashboard does: a
 * refusal for want of the right key (UNAUTHENTICATED, PERMISSION_DENIED)
 * opens the key dialog, and the call is retried with the key given; any
 * other error is thrown to the caller. The field violations of an
 * INVALID_ARGUMENT answer are read here too.
 */
import { ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../gen/ts/google/rpc/error_details_pb.js";
import { describeError, keyProblem } from "./api.js";
import { askForKey, keyReason } from "./key-dialog.js";

/**
 * `run()`'s answer, or undefined when the operator cancelled the key dialog.
 * `refused` is told the refusal ("Refused: PermissionDenied: …") before the dialog opens.
 */
export async function adminCall<T>(what: string, run: () => Promise<T>, refused: (text: string) => void): Promise<T | undefined> {
  for (;;) {
    try {
      return await run();
    } catch (err) {
      const problem = keyProblem(err);
      if (problem === undefined) throw err;
      refused(`Refused: ${describeError(err)}`);
      if (!(await askForKey(keyReason(problem, what, describeError(err))))) return undefined;
    }
  }
}

/** The google.rpc.BadRequest field violations an error carries (none for most errors). */
export function fieldViolations(err: unknown): { field: string; description: string }[] {
  return ConnectError.from(err)
    .findDetails(BadRequestSchema)
    .flatMap((b) => b.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
}
