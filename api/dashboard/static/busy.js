// One request at a time per control. A tap while the control's last request is still in flight
// (an impatient coach, a slow Pi, a double tap on a phone) does nothing: without this, each tap
// of Start set, Begin, Start step or Add started, created or swapped once more (twelve taps on
// Start set made twelve sets; two on Swap swapped the sensors back).
const inFlight = new WeakSet();

// Whether `control`'s request is in flight (views that set `disabled` from their state ask this).
export const busy = (control) => inFlight.has(control);

// Run `work` for `control` unless its last run is still going; the control is disabled
// meanwhile, then enabled again, and `after` (the view's own render, which may disable it for
// its own reasons) runs last.
export async function once(control, work, after = () => {}) {
  if (inFlight.has(control)) return;
  inFlight.add(control);
  control.disabled = true;
  try {
    await work();
  } finally {
    inFlight.delete(control);
    control.disabled = false;
    after();
  }
}
