// A signature pad (szimek/signature_pad) sized to its canvas's CSS box on a phone.
import SignaturePad from "signature_pad";

export function signaturePad(clearLabel) {
  const canvas = document.createElement("canvas");
  canvas.className = "signature";
  const wrap = document.createElement("div");
  wrap.className = "signature-wrap";
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "ghost";
  clear.textContent = clearLabel;
  wrap.append(canvas, clear);
  const pad = new SignaturePad(canvas, { backgroundColor: "rgb(255,255,255)" });
  function fit() {
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    const width = canvas.offsetWidth || 300;
    const height = canvas.offsetHeight || 160;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
  }
  requestAnimationFrame(fit);
  clear.addEventListener("click", () => pad.clear());
  return {
    element: wrap,
    isEmpty: () => pad.isEmpty(),
    dataUrl: () => pad.toDataURL("image/png"),
    async file() {
      // Decoded here: the page's content-security policy lets fetch() reach only the API.
      const binary = atob(pad.toDataURL("image/png").split(",")[1]);
      const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      return new File([bytes], "signature.png", { type: "image/png" });
    },
  };
}
