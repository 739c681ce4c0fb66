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

  button.addEventListener('click', function () {
    button.disabled = true;
    report('Creating your order…');
    fetch('/orders', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || 'The order could not be created.');
          return body;
        });
      })
      .then(function (order) {
        var paid = false;
        var declined = null;  // the last attempt's decline, shown again when the shopper closes
        report('');
        new window.PaymentGateway({
          key: apiKey,
          orderId: order.id,
          onSuccess: function (response) {
            paid = true;
            declined = null;
            report('Payment successful. Payment ID: ' + response.paymentId, 'success');
          },
          onFailure: function (response) {
            var error = response && response.error;
            declined = 'Your payment was declined' +
              (error && error.description ? ' (' + error.description.replace(/\.$/, '') + ')' : '') +
              '. No money was taken.';
            report(declined + ' You can try again in the checkout.', 'error');
          },
          onClose: function () {
            button.disabled = false;
            if (paid) return;
            if (declined) report(declined + ' Press Pay to try again.', 'error');
            else report('Checkout closed before the payment finished.');
          }
        }).open();
      })
      .catch(function (error) {
        button.disabled = false;
        report(error.message, 'error');
      });
  });
}());
