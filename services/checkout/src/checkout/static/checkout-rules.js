/*
 * The shopper-side copy of the API's payment rules (docs/api.md#payment-methods), so that most
 * mistakes are caught before a request is sent. The API stays the authority: it checks everything
 * again. Loaded by the checkout page as the global CheckoutRules; Node's require() gets the same
 * object.
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.CheckoutRules = factory();
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  var VPA_PATTERN = /^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$/;
  // An order id as the API makes them: order_ and 16 letters or digits.
  var ORDER_ID_PATTERN = /^order_[A-Za-z0-9]{16}$/;

  function isOrderId(value) {
    return typeof value === 'string' && ORDER_ID_PATTERN.test(value);
  }

  // What a reader sees as one character (an emoji, a flag, E with its accent) is often several
  // code units: text is cut for display between graphemes, never inside one.
  var graphemes = typeof Intl === 'object' && typeof Intl.Segmenter === 'function'
    ? new Intl.Segmenter(undefined, { granularity: 'grapheme' })
    : null;

  function splitGraphemes(text) {
    var value = String(text == null ? '' : text);
    if (graphemes) {
      return Array.prototype.map.call(Array.from(graphemes.segment(value)), function (part) {
        return part.segment;
      });
    }
    return Array.from(value);  // older engines: whole code points at least
  }

  // "😀 Smile Store" -> "😀", "émile" -> "É": the first grapheme, upper-cased when that stays
  // one grapheme (German ß would become "SS").
  function initial(text) {
    var first = splitGraphemes(String(text == null ? '' : text).trim())[0] || '';
    var upper = first.toUpperCase();
    return splitGraphemes(upper).length === 1 ? upper : first;
  }

  // Invisible controls that reorder the text around them: a merchant named "\u202EyaP nozamA"
  // would read "Amazon Pay". Letters keep their own direction (an Arabic or Hebrew name reads
  // right to left as it should); only these overrides are dropped.
  var DIRECTION_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

  // A merchant's name as the shopper may be shown it: its characters, in their own order.
  function displayName(text) {
    return String(text == null ? '' : text).replace(DIRECTION_CONTROLS, '').trim();
  }

  function isValidVpa(vpa) {
    return typeof vpa === 'string' && VPA_PATTERN.test(vpa);
  }

  function cardDigits(number) {
    return String(number == null ? '' : number).replace(/[\s-]/g, '');
  }

  function passesLuhn(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var digit = digits.charCodeAt(digits.length - 1 - i) - 48;
      if (i % 2 === 1) {
        digit *= 2;
        if (digit > 9) digit -= 9;
      }
      sum += digit;
    }
    return sum % 10 === 0;
  }

  function isValidCardNumber(number) {
    var digits = cardDigits(number);
    return /^\d{13,19}$/.test(digits) && passesLuhn(digits);
  }

  function cardNetwork(number) {
    var digits = cardDigits(number);
    if (/^4/.test(digits)) return 'visa';
    if (/^5[1-5]/.test(digits)) return 'mastercard';
    if (/^3[47]/.test(digits)) return 'amex';
    if (/^(60|65|8[1-9])/.test(digits)) return 'rupay';
    return 'unknown';
  }

  var NETWORK_NAMES = {
    visa: 'Visa', mastercard: 'Mastercard', amex: 'Amex', rupay: 'RuPay', unknown: ''
  };

  function networkName(network) {
    return NETWORK_NAMES[network] || '';
  }

  // Amex prints 4-6-5; the others are read in fours.
  function formatCardNumber(number) {
    var digits = String(number == null ? '' : number).replace(/\D/g, '').slice(0, 19);
    var groups = cardNetwork(digits) === 'amex' ? [4, 6, 5] : [4, 4, 4, 4, 3];
    var parts = [];
    var start = 0;
    for (var i = 0; i < groups.length && start < digits.length; i++) {
      parts.push(digits.slice(start, start + groups[i]));
      start += groups[i];
    }
    if (start < digits.length) parts.push(digits.slice(start));
    return parts.join(' ');
  }

  // What the shopper typed, shaped as MM/YY while they type: "1230" -> "12/30", "4/" -> "04/".
  function formatExpiry(text) {
    var value = String(text == null ? '' : text).replace(/[^\d/]/g, '');
    var slash = value.indexOf('/');
    if (slash === -1) {
      var digits = value.slice(0, 6);
      return digits.length <= 2 ? digits : digits.slice(0, 2) + '/' + digits.slice(2);
    }
    var month = value.slice(0, slash).slice(0, 2);
    if (month.length === 1) month = '0' + month;
    return month + '/' + value.slice(slash + 1).replace(/\//g, '').slice(0, 4);
  }

  // "MM/YY" or "MM/YYYY" -> {month: "MM", year: "YY"}, as typed; null when it is not that shape.
  function parseExpiry(text) {
    var match = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(String(text == null ? '' : text));
    if (!match) return null;
    var month = match[1].length === 1 ? '0' + match[1] : match[1];
    return { month: month, year: match[2] };
  }

  // A card is valid through the last day of its expiry month.
  function isExpiryInFuture(month, year, now) {
    var m = parseInt(month, 10);
    var y = parseInt(year, 10);
    if (!(m >= 1 && m <= 12) || isNaN(y)) return false;
    if (String(year).length === 2) y += 2000;
    now = now || new Date();
    var thisYear = now.getFullYear();
    var thisMonth = now.getMonth() + 1;
    return y > thisYear || (y === thisYear && m >= thisMonth);
  }

  function cvvLength(network) {
    return network === 'amex' ? 4 : 3;
  }

  function isValidCvv(cvv, network) {
    return new RegExp('^\\d{' + cvvLength(network) + '}$').test(String(cvv == null ? '' : cvv));
  }

  // Lakh grouping: 12345678 -> "1,23,45,678".
  function groupIndian(integerText) {
    if (integerText.length <= 3) return integerText;
    var head = integerText.slice(0, -3);
    return head.replace(/\B(?=(\d{2})+(?!\d))/g, ',') + ',' + integerText.slice(-3);
  }

  var CURRENCY_SYMBOLS = { INR: '\u20B9' };

  // Amounts are integers in paise: 50000 -> "₹500.00".
  function formatAmount(paise, currency) {
    var amount = Math.round(Number(paise));
    if (!isFinite(amount)) return '';
    var sign = amount < 0 ? '-' : '';
    amount = Math.abs(amount);
    var code = currency || 'INR';
    var symbol = CURRENCY_SYMBOLS[code] || code + '\u00A0';
    var fraction = String(amount % 100);
    if (fraction.length < 2) fraction = '0' + fraction;
    return sign + symbol + groupIndian(String(Math.floor(amount / 100))) + '.' + fraction;
  }

  return {
    isOrderId: isOrderId,
    splitGraphemes: splitGraphemes,
    initial: initial,
    displayName: displayName,
    isValidVpa: isValidVpa,
    cardDigits: cardDigits,
    passesLuhn: passesLuhn,
    isValidCardNumber: isValidCardNumber,
    cardNetwork: cardNetwork,
    networkName: networkName,
    formatCardNumber: formatCardNumber,
    formatExpiry: formatExpiry,
    parseExpiry: parseExpiry,
    isExpiryInFuture: isExpiryInFuture,
    cvvLength: cvvLength,
    isValidCvv: isValidCvv,
    formatAmount: formatAmount
  };
}));
