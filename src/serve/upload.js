// Drag and drop onto the upload form: the page works without this script
// (the file picker and the 上传 button do the same).
(function () {
  var form = document.getElementById("upload");
  if (!form) { return; }
  var input = form.querySelector("input[type=file]");
  var zone = document.getElementById("drop");
  ["dragenter", "dragover"].forEach(function (e) {
    zone.addEventListener(e, function (ev) { ev.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (e) {
    zone.addEventListener(e, function (ev) { ev.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (ev) {
    if (ev.dataTransfer && ev.dataTransfer.files.length > 0) {
      input.files = ev.dataTransfer.files;
      form.submit();
    }
  });
  input.addEventListener("change", function () {
    var name = document.getElementById("chosen");
    if (name && input.files.length > 0) { name.textContent = input.files[0].name; }
  });
})();
