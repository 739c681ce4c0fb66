/* The merchant's side of an SDK integration: create the order on our server, open the checkout. */
(function () {
  'use strict';

  var button = document.querySelector('[data-test-id="demo-pay-button"]');
  var result = document.querySelector('[data-test-id="demo-result"]');
  var apiKey = document.body.getAttribute('data-api-key');

  function report(text, tone) {
    result.textContent = text;
    result.setAttribute('data-tone', tone || '');
  }

  if (typeof window.PaymentGateway !== 'function') {
    button.disabled = true;
    report('The checkout could not be loaded. Is the checkout service running?', 'error');
    return;
  }

  // One order per purchase: until it is paid, Pay opens the checkout for the same order again.
  // A shopper who closed the checkout while a payment was still processing is so never charged
  // twice: that payment may yet succeed, and the checkout then shows the order paid.
  var order = null;

  function openCheckout() {
    var paid = false;
    var declined = null;  // the last attempt's decline, shown again when the shopper closes
    function settled(message) {
      paid = true;
      declined = null;
      order = null;  // the next purchase is a new order
      report(message, 'success');
    }
    report('');
    new window.PaymentGateway({
      key: apiKey,
      orderId: order.id,
      onSuccess: function (response) {
        settled('Payment successful. Payment ID: ' + response.paymentId);
      },
      onFailure: function (response) {
        var error = response && response.error;
        // This attempt lost to an earlier payment of the order, which succeeded: paid, not declined.
        if (error && error.code === 'ORDER_ALREADY_PAID') {
          settled('This order is already paid: your earlier payment went through. ' +
            'Nothing was taken for this attempt.');
          return;
        }
        declined = 'Your payment was declined' +
          (error && error.description ? ' (' + error.description.replace(/\.$/, '') + ')' : '') +
          '. No money was taken.';
        report(declined + ' You can try again in the checkout.', 'error');
      },
      onClose: function () {
        button.disabled = false;
        if (paid) return;
        if (declined) report(declined + ' Press Pay to try again.', 'error');
        else report('Checkout closed before the payment finished. Pay continues with the same order, so nothing is charged twice.');
      }
    }).open();
  }

  button.addEventListener('click', function () {
    if (order) {
      openCheckout();
      return;
    }
    button.disabled = true;
    report('Creating your order…');
    fetch('/orders', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || 'The order could not be created.');
          return body;
        });
      })
      .then(function (created) {
        order = created;
        openCheckout();
      })
      .catch(function (error) {
        button.disabled = false;
        report(error.message, 'error');
      });
  });
}());
