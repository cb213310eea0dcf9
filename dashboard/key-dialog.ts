/**
 * The API-key dialog: asks the operator for a key when the server refuses a
 * call (access control on), stores it for this tab, and lets the caller
 * retry. One dialog at a time; concurrent askers share its answer.
 */
import { setKey, storedKey } from "./api.js";

let pending: Promise<boolean> | undefined;

function $(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`dashboard: #${id} missing from index.html`);
  return node;
}

/**
 * Shows the dialog with `reason`; resolves true once a key was entered and
 * stored, false when the operator cancelled (Escape or Cancel).
 */
export function askForKey(reason: string): Promise<boolean> {
  pending ??= new Promise<boolean>((resolve) => {
    const dialog = $("key-dialog") as HTMLDialogElement;
    const form = $("key-form") as HTMLFormElement;
    const input = $("key-input") as HTMLInputElement;
    const cancel = $("key-cancel") as HTMLButtonElement;
    $("key-dialog-reason").textContent = reason;
    input.value = "";
    const finish = (ok: boolean): void => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onEscape);
      if (dialog.open) dialog.close();
      pending = undefined;
      resolve(ok);
    };
    const onSubmit = (e: SubmitEvent): void => {
      e.preventDefault();
      const key = input.value.trim();
      if (key === "") return;
      setKey(key);
      finish(true);
    };
    const onCancel = (): void => finish(false);
    const onEscape = (e: Event): void => {
      e.preventDefault();
      finish(false);
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onEscape);
    dialog.showModal();
    input.focus();
  });
  return pending;
}

/** The sentence the dialog shows for a refused call. */
export function keyReason(problem: "unauthenticated" | "permission_denied", what: string, serverMessage: string): string {
  if (problem === "permission_denied") {
    return `The server refused to ${what}: the key in use is not allowed to (${serverMessage}). Enter an admin key.`;
  }
  return storedKey() === undefined
    ? `Access control is on: ${what} needs an API key (${serverMessage}).`
    : `The server did not accept the key in use to ${what} (${serverMessage}). Enter a valid key.`;
}
