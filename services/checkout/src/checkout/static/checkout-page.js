/*
 * The hosted checkout page (services/checkout/README.md#the-page): loads the public order, takes a
 * UPI or card payment, polls the payment until the bank answers, and, inside the SDK's iframe,
 * tells the merchant's page the outcome by postMessage to the one parent origin the SDK passed in.
 */
(function () {
  'use strict';

  var rules = window.CheckoutRules;
  var POLL_INTERVAL_MS = 2000;
  // After this long without an answer the shopper is told to check with the merchant.
  var POLL_GIVE_UP_MS = 3 * 60 * 1000;

  var apiMeta = document.querySelector('meta[name="gateway-api-url"]');
  var apiUrl = (apiMeta ? apiMeta.content : '').replace(/\/+$/, '');
  var params = new URLSearchParams(window.location.search);
  var orderId = (params.get('order_id') || '').trim();
  // Embedded only inside a frame: the SDK's iframe URL opened in a tab of its own is the hosted
  // page, with no merchant's page to return to or tell.
  var embedded = params.get('embedded') === 'true' && window.parent !== window;
  var parentOrigin = embedded ? exactOrigin(params.get('parent_origin')) : null;
  // The SDK's key: the API refuses (404) an order of another merchant's key.
  var keyId = (params.get('key') || '').trim();

  function byTestId(id) {
    return document.querySelector('[data-test-id="' + id + '"]');
  }

  var ui = {
    container: byTestId('checkout-container'),
    merchantName: document.getElementById('merchant-name'),
    merchantAvatar: document.getElementById('merchant-avatar'),
    amount: byTestId('order-amount'),
    orderId: byTestId('order-id'),
    payView: document.getElementById('view-pay'),
    methodHint: document.getElementById('method-hint'),
    methodButtons: document.querySelectorAll('[data-method]'),
    forms: { upi: byTestId('upi-form'), card: byTestId('card-form') },
    vpa: byTestId('vpa-input'),
    cardNumber: byTestId('card-number-input'),
    cardNetwork: byTestId('card-network'),
    expiry: byTestId('expiry-input'),
    cvv: byTestId('cvv-input'),
    holderName: byTestId('cardholder-name-input'),
    payAmounts: document.querySelectorAll('.pay-amount, .receipt-amount'),
    processingHint: document.getElementById('processing-hint'),
    paymentId: byTestId('payment-id'),
    errorMessage: byTestId('error-message'),
    retryButton: byTestId('retry-button'),
    unavailableTitle: document.getElementById('unavailable-title'),
    unavailableMessage: byTestId('order-unavailable-message'),
    reloadButton: byTestId('reload-order-button'),
    returnButton: byTestId('return-button')
  };

  var views = {
    pay: ui.payView,
    processing: byTestId('processing-state'),
    success: byTestId('success-state'),
    error: byTestId('error-state'),
    unavailable: byTestId('order-unavailable')
  };

  var state = {
    view: 'pay',
    method: null,
    // The field the API refused and the reason shown beside it when the shopper tries again.
    invalidField: null,
    invalidFieldMessage: '',
    // Bumped on every new attempt so that a stale poll never touches the screen.
    attempt: 0
  };

  var MESSAGES = {
    vpaMissing: 'Enter your UPI ID, for example name@bank.',
    vpaInvalid: "That UPI ID doesn't look right. It should look like name@bank, with no spaces.",
    cardNumberMissing: 'Enter the card number printed on your card.',
    cardNumberInvalid: "That card number isn't valid. Please check the digits and try again.",
    expiryMissing: 'Enter the expiry date printed on your card, as MM/YY.',
    expiryShape: 'Enter the expiry date as MM/YY, for example 08/29.',
    expiryPast: 'This card has expired. Please check the date or use a different card.',
    cvvInvalid: 'Enter the 3-digit security code from the back of your card.',
    cvvInvalidAmex: 'Enter the 4-digit security code from the front of your card.',
    holderMissing: 'Enter the name as it is printed on your card.',
    orderPaid: 'This order has already been paid. You have not been charged again.'
  };

  // --- talking to the API ---------------------------------------------------------------

  function requestJson(method, path, body) {
    var options = { method: method, headers: { Accept: 'application/json' }, credentials: 'omit' };
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    return fetch(apiUrl + path, options).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (ignored) { parsed = null; }
        return {
          ok: response.ok,
          status: response.status,
          body: parsed,
          retryAfter: parseInt(response.headers.get('Retry-After') || '', 10) || null
        };
      });
    }, function () {
      return { ok: false, status: 0, body: null };
    });
  }

  function apiError(response) {
    var error = response.body && response.body.error;
    return {
      code: (error && error.code) || (response.status === 0 ? 'NETWORK_ERROR' : 'SERVER_ERROR'),
      description: (error && error.description) || '',
      field: (error && error.field) || null,
      retryAfter: response.retryAfter
    };
  }

  // Shoppers read sentences, never codes (services/checkout/README.md#the-page).
  function describeApiError(error) {
    switch (error.code) {
      case 'INVALID_VPA':
        return MESSAGES.vpaInvalid;
      case 'INVALID_CARD':
        return "We couldn't verify that card number. Please check it and try again, or use a different card.";
      case 'EXPIRED_CARD':
        return "This card's expiry date isn't valid or the card has expired. Please check it or use a different card.";
      case 'BAD_REQUEST_ERROR':
        if (/already paid/i.test(error.description)) return MESSAGES.orderPaid;
        return 'Some of the payment details are missing or not valid. Please check them and try again.';
      case 'NOT_FOUND_ERROR':
        return "We couldn't find this order. Please go back to the merchant and start the payment again.";
      case 'CONFLICT_ERROR':
        return 'A payment for this order is already being processed. Please wait a moment before trying again.';
      case 'RATE_LIMIT_ERROR':
        return 'Too many payment attempts for now. Please wait ' +
          (error.retryAfter ? waitWords(error.retryAfter) : 'a few minutes') + ' and try again.';
      case 'NETWORK_ERROR':
      case 'SERVICE_UNAVAILABLE':
        return "We couldn't reach the payment service. Please check your internet connection and try again.";
      default:
        return 'Something went wrong while processing your payment. Please try again in a moment.';
    }
  }

  function waitWords(seconds) {
    if (seconds < 90) return seconds + (seconds === 1 ? ' second' : ' seconds');
    var minutes = Math.ceil(seconds / 60);
    return minutes + ' minutes';
  }

  // The API names the field at fault (docs/api.md#errors `field`); without one, the card codes
  // imply theirs.
  function inputForError(error) {
    var byField = {
      vpa: ui.vpa,
      'card.number': ui.cardNumber,
      'card.expiry_month': ui.expiry,
      'card.expiry_year': ui.expiry,
      'card.cvv': ui.cvv,
      'card.holder_name': ui.holderName
    }[error.field];
    if (byField) return byField;
    return { INVALID_VPA: ui.vpa, INVALID_CARD: ui.cardNumber, EXPIRED_CARD: ui.expiry }[error.code] || null;
  }

  var FIELD_REFUSALS = [
    [ui.vpa, MESSAGES.vpaInvalid],
    [ui.cardNumber, MESSAGES.cardNumberInvalid],
    [ui.expiry, MESSAGES.expiryShape],
    [ui.cvv, MESSAGES.cvvInvalid],
    [ui.holderName, 'Enter the name as it is printed on your card, in at most 100 characters.']
  ];

  // The reason for a field the API refused, in the field's own words: the page's own check
  // when it sees the problem (it knows an Amex CVV has 4 digits), else the field's rule.
  function refusalForField(input, error) {
    var check = FIELD_CHECKS.filter(function (pair) { return pair[0] === input; })[0];
    var ownWords = check && check[1]();
    if (ownWords) return ownWords;
    if (error.code === 'BAD_REQUEST_ERROR' || input === ui.cvv) {
      return FIELD_REFUSALS.filter(function (pair) { return pair[0] === input; })[0][1];
    }
    return describeApiError(error);
  }

  function isOrderAlreadyPaid(error) {
    return error.code === 'ORDER_ALREADY_PAID' ||
      (error.code === 'BAD_REQUEST_ERROR' && /already paid/i.test(error.description));
  }

  // A failed payment's error_code is its reason (docs/api.md, the payments' error codes): the
  // shopper is told it in words, with what to do next.
  var PAYMENT_FAILURES = {
    INSUFFICIENT_FUNDS: 'There is not enough money in the account for this payment. ' +
      'You can try another card or pay by UPI.',
    CARD_DECLINED: 'Your bank declined this card. You can try another card or pay by UPI.',
    // Lost the race to another payment of the order, which succeeded: nothing was taken.
    ORDER_ALREADY_PAID: MESSAGES.orderPaid
  };

  function describePaymentFailure(payment) {
    return PAYMENT_FAILURES[payment.error_code] ||
      'Your bank declined this payment. You can try again or choose a different payment method.';
  }

  // --- talking to the merchant's page ------------------------------------------------------

  // Accept only a bare http(s) origin such as "https://shop.example": no path, no wildcard.
  function exactOrigin(value) {
    if (!value) return null;
    var url;
    try { url = new URL(value); } catch (ignored) { return null; }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== value) return null;
    return url.origin;
  }

  function notifyParent(type, data) {
    if (!embedded || !parentOrigin) return;
    window.parent.postMessage({ type: type, data: data }, parentOrigin);
  }

  // --- views ---------------------------------------------------------------------------------

  function show(view, focusTarget) {
    state.view = view;
    Object.keys(views).forEach(function (name) {
      views[name].hidden = name !== view;
    });
    ui.container.setAttribute('data-view', view);
    var target = focusTarget || (view !== 'pay' && views[view].querySelector('[tabindex="-1"]'));
    if (target) target.focus({ preventScroll: false });
  }

  function showUnavailable(title, message, options) {
    ui.unavailableTitle.textContent = title;
    ui.unavailableMessage.textContent = message;
    ui.reloadButton.hidden = !(options && options.canReload);
    ui.returnButton.hidden = !(embedded && parentOrigin);
    ui.container.setAttribute('aria-busy', 'false');
    show('unavailable');
  }

  function showError(message, invalidField) {
    state.invalidField = invalidField || null;
    state.invalidFieldMessage = invalidField ? message : '';
    ui.errorMessage.textContent = message;
    show('error');
  }

  // Nothing was charged and nothing was refused: the form stays, with the message above the
  // pay button, and may be sent again.
  function refuseInForm(message) {
    state.attempt += 1;
    show('pay');
    selectMethod(state.method || 'upi', false);
    var formError = ui.forms[state.method || 'upi'].querySelector('[data-test-id="form-error"]');
    formError.textContent = message;
    formError.hidden = false;
    formError.focus();
  }

  function clearFormErrors() {
    Object.keys(ui.forms).forEach(function (name) {
      var formError = ui.forms[name].querySelector('[data-test-id="form-error"]');
      formError.hidden = true;
      formError.textContent = '';
    });
  }

  // The merchant's page hears of an order paid before this attempt as of a payment that lost
  // the race to another: error.code ORDER_ALREADY_PAID, so that it can treat the order as paid.
  var ORDER_PAID_ERROR = { code: 'ORDER_ALREADY_PAID', description: 'Order already paid' };

  function selectMethod(method, moveFocus) {
    state.method = method;
    Array.prototype.forEach.call(ui.methodButtons, function (button) {
      button.setAttribute('aria-pressed', String(button.getAttribute('data-method') === method));
    });
    Object.keys(ui.forms).forEach(function (name) {
      ui.forms[name].hidden = name !== method;
    });
    ui.methodHint.hidden = true;
    if (moveFocus) ui.forms[method].querySelector('input').focus();
  }

  // --- the order -------------------------------------------------------------------------------

  function renderOrder(order) {
    var amount = rules.formatAmount(order.amount, order.currency);
    ui.amount.textContent = amount;
    Array.prototype.forEach.call(ui.payAmounts, function (node) { node.textContent = amount; });
    var merchant = rules.displayName(order.merchant_name) || 'Merchant';
    ui.merchantName.textContent = merchant;
    ui.merchantAvatar.textContent = rules.initial(merchant);
    document.title = 'Pay ' + amount + ' to ' + merchant;
  }

  function loadOrder() {
    if (!orderId) {
      ui.container.setAttribute('data-order', 'missing');
      showUnavailable('No order to pay',
        'This payment link is missing its order. Please go back to the merchant and start the payment again.');
      return;
    }
    ui.orderId.textContent = orderId;
    if (!rules.isOrderId(orderId)) {
      // No request can find it, and retrying will not help: the link itself is wrong.
      ui.container.setAttribute('data-order', 'missing');
      showUnavailable("This payment link isn't valid",
        "The link's order ID is incomplete or damaged. Please go back to the merchant and start the payment again.");
      notifyParent('payment_failed', {
        orderId: orderId,
        error: { code: 'BAD_REQUEST_ERROR', description: 'order_id is not a valid order id' }
      });
      return;
    }
    var orderPath = '/api/v1/orders/' + encodeURIComponent(orderId) + '/public' +
      (keyId ? '?key_id=' + encodeURIComponent(keyId) : '');
    requestJson('GET', orderPath).then(function (response) {
      if (response.ok && response.body && response.body.id) {
        renderOrder(response.body);
        ui.container.removeAttribute('data-order');
        ui.container.setAttribute('aria-busy', 'false');
        // Paid before the page was opened: nothing to pay and nothing refused, so no form.
        if (response.body.status === 'paid') showUnavailable('Order already paid', MESSAGES.orderPaid);
        return;
      }
      ui.container.setAttribute('data-order', 'missing');
      if (response.status === 404 || response.status === 400) {
        showUnavailable('Order not found',
          "We couldn't find this order. Please check the link or go back to the merchant and start again.");
        notifyParent('payment_failed', { orderId: orderId, error: apiError(response) });
      } else {
        showUnavailable("Checkout isn't available right now",
          "We couldn't load this order. Please check your connection and try again.", { canReload: true });
      }
    });
  }

  // --- paying ------------------------------------------------------------------------------------

  function setFieldError(input, message) {
    var errorNode = document.getElementById(input.id + '-error');
    if (message) {
      input.setAttribute('aria-invalid', 'true');
    } else {
      input.removeAttribute('aria-invalid');
    }
    if (errorNode) errorNode.textContent = message || '';
  }

  function vpaProblem() {
    var vpa = ui.vpa.value.trim();
    if (!vpa) return MESSAGES.vpaMissing;
    return rules.isValidVpa(vpa) ? '' : MESSAGES.vpaInvalid;
  }

  function cardNumberProblem() {
    if (!rules.cardDigits(ui.cardNumber.value)) return MESSAGES.cardNumberMissing;
    return rules.isValidCardNumber(ui.cardNumber.value) ? '' : MESSAGES.cardNumberInvalid;
  }

  function expiryProblem() {
    if (!ui.expiry.value.trim()) return MESSAGES.expiryMissing;
    var expiry = rules.parseExpiry(ui.expiry.value);
    var month = expiry && parseInt(expiry.month, 10);
    if (!expiry || month < 1 || month > 12) return MESSAGES.expiryShape;
    return rules.isExpiryInFuture(expiry.month, expiry.year) ? '' : MESSAGES.expiryPast;
  }

  function cvvProblem() {
    var network = rules.cardNetwork(ui.cardNumber.value);
    if (rules.isValidCvv(ui.cvv.value, network)) return '';
    return network === 'amex' ? MESSAGES.cvvInvalidAmex : MESSAGES.cvvInvalid;
  }

  function holderNameProblem() {
    return ui.holderName.value.trim() ? '' : MESSAGES.holderMissing;
  }

  var FIELD_CHECKS = [
    [ui.vpa, vpaProblem],
    [ui.cardNumber, cardNumberProblem],
    [ui.expiry, expiryProblem],
    [ui.cvv, cvvProblem],
    [ui.holderName, holderNameProblem]
  ];

  function startPayment(body) {
    state.attempt += 1;
    var attempt = state.attempt;
    ui.processingHint.textContent = body.method === 'upi'
      ? 'Approve the payment request in your UPI app. Please keep this window open.'
      : "Confirming with your bank. Please don't close this window or press back.";
    show('processing');
    requestJson('POST', '/api/v1/payments/public', body).then(function (response) {
      if (attempt !== state.attempt) return;
      if (response.ok && response.body && response.body.id) {
        followPayment(response.body, attempt, Date.now());
        return;
      }
      var error = apiError(response);
      // Paid meanwhile (another tab, another device): refused like any other payment (400),
      // with no field at fault. The merchant's page is told, for the order is paid.
      if (isOrderAlreadyPaid(error)) {
        showError(MESSAGES.orderPaid);
        notifyParent('payment_failed', { orderId: orderId, error: ORDER_PAID_ERROR });
        return;
      }
      if (error.code === 'NOT_FOUND_ERROR') {
        showUnavailable('Order not found', describeApiError(error));
        notifyParent('payment_failed', { orderId: orderId, error: error });
        return;
      }
      // The API refused the payment itself (400): "Payment Failed" with the reason, and
      // "Try again" leads back to the field at fault. No payment exists, so the merchant's
      // page is not told of one; the shopper fixes the field here.
      if (response.status === 400) {
        var input = inputForError(error);
        showError(input ? refusalForField(input, error) : describeApiError(error), input);
        return;
      }
      // Not refused, only not now (too many attempts, a network or service problem): the
      // shopper stays on the form and may send it again.
      refuseInForm(describeApiError(error));
    });
  }

  function followPayment(payment, attempt, startedAt) {
    if (payment.status === 'success') {
      ui.paymentId.textContent = payment.id;
      show('success');
      notifyParent('payment_success', { paymentId: payment.id, orderId: orderId, status: 'success' });
      return;
    }
    if (payment.status === 'failed') {
      showError(describePaymentFailure(payment));
      notifyParent('payment_failed', {
        paymentId: payment.id,
        orderId: orderId,
        error: { code: payment.error_code || 'PAYMENT_FAILED', description: payment.error_description || 'Payment failed' }
      });
      return;
    }
    if (Date.now() - startedAt > POLL_GIVE_UP_MS) {
      showError('Your bank is taking longer than usual to confirm this payment. ' +
        'Please check with the merchant before paying again.');
      return;
    }
    window.setTimeout(function () {
      if (attempt !== state.attempt) return;
      var path = '/api/v1/payments/' + encodeURIComponent(payment.id) + '/public';
      requestJson('GET', path).then(function (response) {
        if (attempt !== state.attempt) return;
        // A failed poll is retried: the payment itself is safe on the server.
        followPayment(response.ok && response.body ? response.body : payment, attempt, startedAt);
      });
    }, POLL_INTERVAL_MS);
  }

  // --- wiring ------------------------------------------------------------------------------------

  Array.prototype.forEach.call(ui.methodButtons, function (button) {
    button.addEventListener('click', function () {
      selectMethod(button.getAttribute('data-method'), true);
    });
  });

  // The page's own checks only advise: every form is sent, and the API decides what it refuses.
  ui.forms.upi.addEventListener('submit', function (event) {
    event.preventDefault();
    clearFormErrors();
    startPayment({ order_id: orderId, method: 'upi', vpa: ui.vpa.value.trim() });
  });

  ui.forms.card.addEventListener('submit', function (event) {
    event.preventDefault();
    clearFormErrors();
    // As typed when it is not MM/YY: the API says what is wrong with it.
    var expiry = rules.parseExpiry(ui.expiry.value);
    var parts = ui.expiry.value.split('/');
    startPayment({
      order_id: orderId,
      method: 'card',
      card: {
        number: rules.cardDigits(ui.cardNumber.value),
        expiry_month: expiry ? expiry.month : parts[0].trim(),
        expiry_year: expiry ? expiry.year : (parts[1] || '').trim(),
        cvv: ui.cvv.value,
        holder_name: ui.holderName.value.trim()
      }
    });
  });

  // Check a field when the shopper leaves it, and clear its message as soon as it is fixed.
  FIELD_CHECKS.forEach(function (check) {
    check[0].addEventListener('blur', function (event) {
      // Leaving for the pay button: submitting checks it anyway, and a message appearing
      // now would push the button away from under the pointer mid-click.
      var next = event.relatedTarget;
      if (next && next.type === 'submit') return;
      if (check[0].value.trim()) setFieldError(check[0], check[1]());
    });
    check[0].addEventListener('input', function () {
      if (check[0].getAttribute('aria-invalid') === 'true' && !check[1]()) setFieldError(check[0], '');
    });
  });

  ui.cardNumber.addEventListener('input', function () {
    var input = ui.cardNumber;
    var caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    var digitsBeforeCaret = input.value.slice(0, caret).replace(/\D/g, '').length;
    var formatted = rules.formatCardNumber(input.value);
    if (formatted !== input.value) {
      input.value = formatted;
      var position = 0;
      for (var seen = 0; position < formatted.length && seen < digitsBeforeCaret; position++) {
        if (/\d/.test(formatted.charAt(position))) seen++;
      }
      input.setSelectionRange(position, position);
    }
    var network = rules.cardNetwork(formatted);
    ui.cardNetwork.setAttribute('data-network', network);
    ui.cardNetwork.textContent = rules.networkName(network);
    ui.cvv.maxLength = rules.cvvLength(network);
    if (ui.cvv.value.length > ui.cvv.maxLength) ui.cvv.value = ui.cvv.value.slice(0, ui.cvv.maxLength);
  });

  ui.expiry.addEventListener('input', function (event) {
    var deleting = event.inputType && event.inputType.indexOf('delete') === 0;
    var formatted = rules.formatExpiry(ui.expiry.value);
    if (!deleting && formatted !== ui.expiry.value) ui.expiry.value = formatted;
  });

  ui.cvv.addEventListener('input', function () {
    var digits = ui.cvv.value.replace(/\D/g, '');
    if (digits !== ui.cvv.value) ui.cvv.value = digits;
  });

  // Back to the same form with everything typed still in it (the CVV too: it lives only in
  // this page's field and was never stored), the refused field marked with its reason.
  ui.retryButton.addEventListener('click', function () {
    state.attempt += 1;
    show('pay');
    var method = state.method || 'upi';
    selectMethod(method, false);
    var refused = state.invalidField && ui.forms[method].contains(state.invalidField)
      ? state.invalidField
      : null;
    if (refused) setFieldError(refused, state.invalidFieldMessage);
    var target = refused || ui.forms[method].querySelector('input');
    target.focus();
    if (target.select) target.select();
  });

  ui.reloadButton.addEventListener('click', function () {
    show('pay');
    ui.container.setAttribute('aria-busy', 'true');
    loadOrder();
  });

  ui.returnButton.addEventListener('click', function () {
    notifyParent('close_modal', { orderId: orderId });
  });

  // Inside the SDK's modal, focus lives in this frame, so Escape is heard here and passed up;
  // not while an input method composes a word (Escape then cancels the composition only).
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && !event.isComposing && embedded && state.view !== 'processing') {
      notifyParent('close_modal', { orderId: orderId });
    }
  });

  if (embedded) document.documentElement.classList.add('is-embedded');
  loadOrder();
}());
