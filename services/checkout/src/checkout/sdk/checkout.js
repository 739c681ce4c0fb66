/*!
 * PaymentGateway checkout SDK (services/checkout/README.md#embedded-mode-and-the-sdk). One
 * dependency-free UMD file: a <script> tag defines window.PaymentGateway; CommonJS and AMD loaders
 * get the same class.
 *
 *   var checkout = new PaymentGateway({ key: 'key_…', orderId: 'order_…',
 *     onSuccess: function (r) {}, onFailure: function (e) {}, onClose: function () {} });
 *   checkout.open();   // checkout.close() too
 */
(function (root, factory) {
  // The checkout lives where this file was served from; currentScript is only set right now.
  var script = typeof document !== 'undefined' && document.currentScript;
  var origin = script && script.src ? new URL(script.src).origin : 'http://localhost:3001';
  if (typeof define === 'function' && define.amd) {
    define([], function () { return factory(origin); });
  } else if (typeof module === 'object' && module.exports) {
    module.exports = factory(origin);
  } else {
    root.PaymentGateway = factory(origin);
  }
}(typeof self !== 'undefined' ? self : this, function (checkoutOrigin) {
  'use strict';

  var MODAL_ID = 'payment-gateway-modal';
  // Styles go through the CSSOM, which a merchant's Content-Security-Policy does not block
  // (a <style> element or style attribute would need 'unsafe-inline'). Below 480 px wide the
  // clamp() terms reach 0 and the dialog fills the screen.
  var SMALL = '(480px - 100vw) * 1000';
  // The close button carries its own dark disc: the checkout beneath it scrolls, so it may sit
  // on the page's white body as well as on its blue header.
  var STYLES = {
    modal: 'position:fixed;inset:0;z-index:2147483647;display:flex;align-items:center;' +
      'justify-content:center;background:rgba(15,23,42,.62);' +
      'padding:clamp(0px,calc(-1 * ' + SMALL + '),24px)',
    box: 'position:relative;width:100%;height:100%;background:#fff;overflow:hidden;' +
      'max-width:max(440px,calc(' + SMALL + '));max-height:max(720px,calc(' + SMALL + '));' +
      'border-radius:clamp(0px,calc(-1 * ' + SMALL + '),16px);box-shadow:0 24px 64px rgba(0,0,0,.35)',
    iframe: 'display:block;width:100%;height:100%;border:0',
    close: 'position:absolute;top:12px;right:12px;z-index:1;width:36px;height:36px;padding:0;' +
      'border:0;border-radius:50%;background:rgba(15,23,42,.6);color:#fff;' +
      'font:24px/36px sans-serif;cursor:pointer'
  };

  function element(tag, attributes, style) {
    var node = document.createElement(tag);
    for (var name in attributes) node.setAttribute(name, attributes[name]);
    if (style) node.style.cssText = style;
    return node;
  }

  function call(callback, argument) {
    if (typeof callback === 'function') callback(argument);
  }

  // The element the shopper last put focus on. A merchant's page often disables its Pay button
  // while it creates the order, which drops focus to <body> before open() is called: focus
  // still goes back to that button when the modal closes.
  var lastFocused = null;
  if (typeof document !== 'undefined') {
    document.addEventListener('focusin', function (event) { lastFocused = event.target; }, true);
  }

  function opener() {
    var active = document.activeElement;
    if (active && active !== document.body && active !== document.documentElement) return active;
    return lastFocused && document.contains(lastFocused) ? lastFocused : null;
  }

  function PaymentGateway(options) {
    if (!(this instanceof PaymentGateway)) {
      throw new TypeError('PaymentGateway must be called with new');
    }
    options = options || {};
    if (!options.key || typeof options.key !== 'string') {
      throw new Error('PaymentGateway: the "key" option is required (your API key, such as key_test_abc123)');
    }
    if (!options.orderId || typeof options.orderId !== 'string') {
      throw new Error('PaymentGateway: the "orderId" option is required (the id of an order your server created)');
    }
    // The checkout tells the outcome to this page's origin, which only an http(s) page has: a
    // file opened from disk or a sandboxed frame would take the payment and never hear of it.
    if (typeof window !== 'undefined' && !/^https?:\/\/[^/]+$/.test(window.location.origin)) {
      throw new Error('PaymentGateway: open this page from a web server (http or https), ' +
        'not as a file or in a sandboxed frame: the checkout cannot report a payment to it');
    }
    this.options = options;
    this.modal = null;
    this.iframe = null;
    this._message = this._message.bind(this);
    this._keydown = this._keydown.bind(this);
    this._waiting = null;
  }

  PaymentGateway.prototype.open = function () {
    if (this.modal || document.getElementById(MODAL_ID)) return this;
    var self = this;
    // Called from a script in <head>: the modal opens as soon as there is a <body> to hold it.
    if (!document.body) {
      if (!this._waiting) {
        this._waiting = function () { self._waiting = null; self.open(); };
        document.addEventListener('DOMContentLoaded', this._waiting);
      }
      return this;
    }
    var src = checkoutOrigin + '/checkout?order_id=' + encodeURIComponent(this.options.orderId) +
      '&embedded=true&parent_origin=' + encodeURIComponent(window.location.origin) +
      '&key=' + encodeURIComponent(this.options.key);

    var modal = element('div', {
      id: MODAL_ID, 'data-test-id': 'payment-modal', role: 'dialog', 'aria-modal': 'true',
      'aria-label': 'Secure payment'
    }, STYLES.modal);
    var box = element('div', {}, STYLES.box);
    var close = element('button', {
      type: 'button', 'data-test-id': 'close-modal-button', 'aria-label': 'Close payment window'
    }, STYLES.close);
    close.textContent = '\u00D7';
    close.addEventListener('click', function () { self.close(); });
    var iframe = element('iframe', {
      'data-test-id': 'payment-iframe', src: src, title: 'Secure payment', allow: 'payment'
    }, STYLES.iframe);
    // Tabbing past the checkout wraps back to the close button instead of leaving the dialog.
    var wrap = element('span', { tabindex: '0' });
    wrap.addEventListener('focus', function () { close.focus(); });

    box.appendChild(close);
    box.appendChild(iframe);
    box.appendChild(wrap);
    modal.appendChild(box);

    this.returnFocus = opener();
    this.bodyOverflow = document.body.style.overflow;
    document.body.style.overflow = 'hidden';
    document.body.appendChild(modal);
    this.modal = modal;
    this.iframe = iframe;
    this.closeButton = close;
    window.addEventListener('message', this._message);
    document.addEventListener('keydown', this._keydown, true);
    close.focus();
    return this;
  };

  PaymentGateway.prototype.close = function () {
    if (this._waiting) {
      document.removeEventListener('DOMContentLoaded', this._waiting);
      this._waiting = null;
    }
    if (!this.modal) return this;
    window.removeEventListener('message', this._message);
    document.removeEventListener('keydown', this._keydown, true);
    if (this.modal.parentNode) this.modal.parentNode.removeChild(this.modal);
    this.modal = this.iframe = this.closeButton = null;
    document.body.style.overflow = this.bodyOverflow;
    var returnFocus = this.returnFocus;
    this.returnFocus = null;
    try {
      call(this.options.onClose);
    } finally {
      // After onClose, which may enable the opener again (a disabled button cannot take focus).
      if (returnFocus && returnFocus.focus && document.contains(returnFocus)) returnFocus.focus();
    }
    return this;
  };

  PaymentGateway.prototype._keydown = function (event) {
    if (event.key === 'Escape' || event.key === 'Esc') {
      event.preventDefault();
      this.close();
    } else if (event.key === 'Tab' && event.shiftKey && event.target === this.closeButton) {
      event.preventDefault();
      this.iframe.focus();
    }
  };

  // Only the checkout we opened may speak: its window and its origin, both.
  PaymentGateway.prototype._message = function (event) {
    if (!this.iframe || event.source !== this.iframe.contentWindow || event.origin !== checkoutOrigin) {
      return;
    }
    var message = event.data;
    if (!message || typeof message.type !== 'string') return;
    var data = message.data || {};
    if (message.type === 'payment_success') {
      try {
        call(this.options.onSuccess, data);
      } finally {
        this.close();
      }
    } else if (message.type === 'payment_failed') {
      call(this.options.onFailure, data);
    } else if (message.type === 'close_modal') {
      this.close();
    }
  };

  return PaymentGateway;
}));
