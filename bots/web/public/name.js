// Who is using this browser. Asked once and kept in localStorage: it names the requester of
// jobs and the author of feedback; it is not a login.
const KEY = "gems-studio-name";
const MAX_CHARS = 40;

export function savedName() {
  try {
    return localStorage.getItem(KEY)?.trim() || null;
  } catch {
    return null; // storage disabled: ask every visit
  }
}

/** Opens the dialog (prefilled when changing) and resolves with the chosen name. */
export function askName(dialog, current) {
  const form = dialog.querySelector("form");
  const input = dialog.querySelector("#name-input");
  const error = dialog.querySelector("#name-error");
  input.value = current ?? "";
  error.textContent = "";
  return new Promise((resolve) => {
    const finish = (value) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("cancel", onCancel);
      dialog.removeEventListener("close", onClose);
      resolve(value);
    };
    function onSubmit(event) {
      const name = input.value.trim();
      if (name === "" || name.length > MAX_CHARS) {
        event.preventDefault();
        error.textContent = name === "" ? "Enter a name, e.g. Ada." : `Use at most ${MAX_CHARS} characters.`;
        input.focus();
        return;
      }
      try {
        localStorage.setItem(KEY, name);
      } catch {
        // Not persisted; the name still holds for this visit.
      }
      finish(name);
    }
    function onCancel(event) {
      // Without a name nothing can be started, so Escape only closes when one exists.
      if (!current) event.preventDefault();
    }
    function onClose() {
      // Closed without a submit (Escape; Chrome lets a second Escape skip the cancel event):
      // keep the old name, or ask again when there is none.
      if (current) finish(current);
      else dialog.showModal();
    }
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("cancel", onCancel);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    input.focus();
  });
}
