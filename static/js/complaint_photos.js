// Complaint photos inside WeChat: the JS-SDK picks them (wx.chooseImage) and uploads them to
// WeChat one at a time (wx.uploadImage); the form carries their serverIds, which the server
// fetches from WeChat. The SDK loads only inside WeChat, so other browsers keep the light
// page and the plain file input; if the SDK cannot be configured, the file input stays too.
(function () {
  "use strict";
  var script = document.currentScript;
  var picker = document.getElementById("photo-picker");
  var form = document.getElementById("complaint-form");
  if (!picker || !form || !/MicroMessenger/i.test(navigator.userAgent)) return;
  var max = Number(picker.getAttribute("data-max")) || 9;

  function useSdk() {
    var input = picker.querySelector("input[type=file]");
    var button = document.createElement("button");
    var status = document.createElement("p");
    var chosen = 0;
    input.disabled = true;
    input.hidden = true;
    button.type = "button";
    button.className = "weui-btn weui-btn_mini weui-btn_default";
    button.textContent = "选择照片";
    status.className = "weui-cell__desc";
    picker.appendChild(button);
    picker.appendChild(status);

    function upload(localIds) {
      if (!localIds.length) return;
      window.wx.uploadImage({
        localId: localIds[0],
        isShowProgressTips: 1,
        success: function (res) {
          var hidden = document.createElement("input");
          hidden.type = "hidden";
          hidden.name = "media_id";
          hidden.value = res.serverId;
          form.appendChild(hidden);
          chosen += 1;
          status.textContent = "已选择 " + chosen + " 张照片" + (chosen >= max ? "（已达上限）" : "");
          upload(localIds.slice(1));
        },
        fail: function () { status.textContent = "照片上传失败，请重新选择"; }
      });
    }

    button.addEventListener("click", function () {
      var left = max - chosen;
      if (left <= 0) return;
      window.wx.chooseImage({
        count: left,
        sizeType: ["compressed"],
        sourceType: ["album", "camera"],
        success: function (res) { upload(res.localIds.slice(0, left)); }
      });
    });
  }

  var configUrl = script.getAttribute("data-config") + "?url=" +
    encodeURIComponent(location.href.split("#")[0]);
  fetch(configUrl, { credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.json() : Promise.reject(); })
    .then(function (config) {
      var sdk = document.createElement("script");
      sdk.src = script.getAttribute("data-sdk");
      sdk.onload = function () {
        window.wx.config({
          appId: config.appId,
          timestamp: config.timestamp,
          nonceStr: config.nonceStr,
          signature: config.signature,
          jsApiList: ["chooseImage", "uploadImage"]
        });
        window.wx.ready(useSdk);
      };
      document.head.appendChild(sdk);
    })
    .catch(function () { /* the plain file input stays */ });
})();
