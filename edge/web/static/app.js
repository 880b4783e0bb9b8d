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

  // Scanner button: start a batch, show live progress, reload when done.
  document.querySelectorAll("[data-scan]").forEach((button) => {
    button.addEventListener("click", () => {
      const component = button.dataset.scan;
      const pages = parseInt(window.prompt("Số trang cần quét:", "1") || "0", 10);
      if (!pages) return;
      const bar = document.querySelector('[data-scan-progress="' + component + '"]');
      const text = document.querySelector('[data-scan-status="' + component + '"]');
      const es = events();
      es.addEventListener("scan_progress", (ev) => {
        const p = JSON.parse(ev.data).data || {};
        if (p.component !== component) return;
        bar.hidden = false; bar.max = 100; bar.value = p.percent || 0;
        text.textContent = p.message_vi || ("Trang " + p.page + "/" + p.pages);
      });
      es.addEventListener("scan_done", (ev) => {
        const d = JSON.parse(ev.data);
        if (d.component !== component) return;
        if (d.error_vi) { text.textContent = d.error_vi; } else { window.location.reload(); }
      });
      button.disabled = true;
      fetch("/dossiers/" + button.dataset.dossier + "/scan", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ component: component, pages: pages }),
      }).then((r) => r.json().then((b) => {
        button.disabled = false;
        if (!r.ok) text.textContent = (b.error && b.error.message_vi) || "Không bắt đầu quét được.";
        else text.textContent = "Đang quét…";
      }));
    });
  });
})();
