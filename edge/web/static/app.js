// Trạm Một Cửa: the little script the pages need. Everything works without it except live
// updates (devices, QR scans, scan progress); the server enforces every rule itself.
"use strict";
(function () {
  const body = document.body;
  const csrf = () => { const el = document.querySelector('input[name="csrf_token"]'); return el ? el.value : ""; };

  // Idle logout: the server ends the session; the page follows so nothing stays on screen.
  if (body.dataset.loggedIn) {
    const idleMs = (parseInt(body.dataset.idleMinutes, 10) || 15) * 60000;
    let timer;
    const reset = () => { clearTimeout(timer); timer = setTimeout(() => { window.location.href = "/login"; }, idleMs + 2000); };
    ["keydown", "mousedown", "touchstart"].forEach((e) => document.addEventListener(e, reset, { passive: true }));
    reset();
  }

  // Procedure search: filter the options of the list box.
  document.querySelectorAll("[data-filter-select]").forEach((input) => {
    const select = document.getElementById(input.dataset.filterSelect);
    if (!select) return;
    const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
    input.addEventListener("input", () => {
      const needle = fold(input.value.trim());
      let first = null;
      Array.from(select.options).forEach((opt) => {
        const show = !needle || fold(opt.text).includes(needle);
        opt.hidden = !show;
        if (show && !first) first = opt;
      });
      if (first && (select.selectedIndex < 0 || select.options[select.selectedIndex].hidden)) first.selected = true;
    });
    input.addEventListener("keydown", (ev) => { if (ev.key === "ArrowDown") { ev.preventDefault(); select.focus(); } });
  });

  // Client-side size check before an upload (the server checks again).
  document.querySelectorAll("form.upload").forEach((form) => {
    form.addEventListener("submit", (ev) => {
      const file = form.querySelector('input[type="file"]');
      const max = parseInt(form.dataset.maxMb, 10) * 1024 * 1024;
      if (file && file.files[0] && file.files[0].size > max) {
        ev.preventDefault();
        alert("Tệp vượt quá dung lượng cho phép (" + form.dataset.maxMb + " MB).");
      }
    });
  });

  let source = null;
  const events = () => {
    if (!source && window.EventSource) source = new EventSource("/events");
    return source;
  };

  // Devices panel: reload the table when a device appears, disappears or changes.
  const table = document.querySelector("[data-devices-live]");
  if (table && window.EventSource) {
    ["added", "removed", "changed"].forEach((t) => events().addEventListener(t, () => {
      fetch("/api/v1/devices", { credentials: "same-origin" }).then((r) => r.json()).then((state) => {
        const names = { scanner: "Máy quét", qr_scanner: "Máy quét QR", card_reader: "Đầu đọc thẻ", printer: "Máy in" };
        const states = { ready: "Sẵn sàng", busy: "Đang bận", error: "Lỗi", absent: "Không có" };
        const tbody = table.querySelector("tbody");
        tbody.textContent = "";
        state.devices.forEach((d) => {
          const tr = document.createElement("tr");
          const cells = [names[d.kind] || d.kind, (d.vendor + " " + d.model + " " + d.name).trim(), states[d.status] || d.status, d.last_seen, d.last_error];
          cells.forEach((c, i) => {
            const td = document.createElement("td");
            if (i === 2) { const b = document.createElement("span"); b.className = "badge st-" + d.status; b.textContent = c; td.appendChild(b); }
            else td.textContent = c || "";
            tr.appendChild(td);
          });
          tbody.appendChild(tr);
        });
        document.getElementById("devices-live").textContent = "Đã cập nhật lúc " + new Date().toLocaleTimeString("vi-VN");
      });
    }));
  }

  // CCCD panel: a QR scan fills the applicant fields.
  const panel = document.querySelector("[data-cccd-panel]");
  if (panel && window.EventSource) {
    const status = document.getElementById("cccd-status");
    events().addEventListener("cccd_scanned", (ev) => {
      const data = (JSON.parse(ev.data).data) || {};
      const map = { id_number: "id_number", old_id_number: "old_id_number", full_name: "full_name",
        date_of_birth: "date_of_birth", gender: "gender", address: "address" };
      Object.keys(map).forEach((k) => {
        const el = document.getElementById("f-" + map[k]);
        if (el && data[k]) el.value = data[k];
      });
      status.textContent = "Đã đọc CCCD: kiểm tra lại thông tin rồi chọn thủ tục.";
    });
    events().addEventListener("qr_error", (ev) => {
      status.textContent = JSON.parse(ev.data).error_vi || "Không đọc được mã QR.";
    });
  }

  // Look-up: scanning a receipt's QR opens the dossier.
  if (document.querySelector("[data-receipt-scan]") && window.EventSource) {
    events().addEventListener("receipt_scanned", (ev) => {
      const data = JSON.parse(ev.data).data;
      const code = typeof data === "string" ? data : (data && data.code);
      if (code) window.location.href = "/lookup?by=code&open=1&q=" + encodeURIComponent(code);
    });
  }

  // Scanner button: start a batch, show live progress (scan_status events), reload when done;
  // a scanner error (no paper, jam, device gone) is shown next to the button and the page stays.
  const scanBoxes = document.querySelectorAll("[data-scan-box]");
  if (scanBoxes.length && window.EventSource) {
    const es = events();  // opened at once, so no event of a short batch is missed
    const boxOf = (d) => document.querySelector('[data-scan-box="' + d.component + '"][data-dossier="' + d.dossier_id + '"]');
    const say = (box, text) => { box.querySelector("[data-scan-status]").textContent = text; };
    const fail = (box, text) => {
      const err = box.querySelector("[data-scan-error]");
      err.textContent = text; err.hidden = false;
      box.querySelector("[data-scan-progress]").hidden = true;
      box.querySelector("[data-scan]").disabled = false;
    };
    es.addEventListener("scan_status", (ev) => {
      const d = JSON.parse(ev.data);
      const box = boxOf(d);
      if (!box) return;
      const p = d.data || {};
      const bar = box.querySelector("[data-scan-progress]");
      const total = p.pages || 1;
      const done = p.state === "page_stored" ? p.page : Math.max(0, (p.page || 1) - 1) + (p.percent || 0) / 100;
      bar.hidden = false;
      bar.value = Math.min(100, Math.round((100 * done) / total));
      const texts = {
        starting: "Đang khởi động máy quét…",
        scanning: "Đang quét trang " + (p.page || 1) + "/" + total + "…",
        page_stored: "Đã lưu trang " + p.page + "/" + total + " (đã mã hóa)",
        assembling: "Đang ghép bản PDF…",
        done: "Đã quét xong.",
      };
      say(box, p.message_vi || texts[p.state] || "");
    });
    es.addEventListener("scan_done", (ev) => {
      const d = JSON.parse(ev.data);
      const box = boxOf(d);
      if (!box) return;
      if (d.error_vi) {
        fail(box, d.error_vi);
        say(box, d.stored ? "Đã lưu " + d.stored + " trang. Tải lại trang để xem." : "");
      } else {
        window.location.href = window.location.pathname + "?msg=scanned#component-" + d.component;
      }
    });
    scanBoxes.forEach((box) => {
      const button = box.querySelector("[data-scan]");
      button.addEventListener("click", () => {
        const pages = parseInt(box.querySelector("[data-scan-pages]").value, 10);
        const err = box.querySelector("[data-scan-error]");
        err.hidden = true; err.textContent = "";
        if (!(pages >= 1)) { fail(box, "Nhập số trang cần quét (từ 1 trở lên)."); return; }
        button.disabled = true;
        say(box, "Đang bắt đầu quét…");
        const start = () => fetch("/dossiers/" + box.dataset.dossier + "/scan", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
          body: JSON.stringify({ component: box.dataset.scanBox, pages: pages,
            source: box.querySelector("[data-scan-source]").value,
            device: box.querySelector("[data-scan-device]").value }),
        }).then((r) => r.json().then((b) => {
          if (!r.ok) { say(box, ""); fail(box, (b.error && b.error.message_vi) || "Không bắt đầu quét được."); }
        })).catch(() => { say(box, ""); fail(box, "Mất kết nối tới trạm: thử lại."); });
        if (es.readyState === 1) start(); else es.addEventListener("open", start, { once: true });
      });
    });
  }
})();
