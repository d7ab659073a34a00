// Colours of the angles and marks in every chart (the same as style.css's swatches).
export const COLORS = { thigh: "#3d8bfd", tilt: "#ff9f1c", hip: "#b37feb", wink: "#ff4d4f", descent: "#3d8bfd", ascent: "#ff9f1c" };
export const VARIANT_COLORS = ["#3d8bfd", "#ff9f1c", "#35c27a", "#b37feb", "#ff4d4f", "#f5e663"];
