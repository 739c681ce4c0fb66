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
        report('');
        new window.PaymentGateway({
          key: apiKey,
          orderId: order.id,
          onSuccess: function (response) {
            paid = true;
            report('Payment successful. Payment ID: ' + response.paymentId, 'success');
          },
          onFailure: function (response) {
            var error = response && response.error;
            report('That attempt failed' + (error && error.description ? ': ' + error.description : '') +
              '. You can try again in the checkout.', 'error');
          },
          onClose: function () {
            button.disabled = false;
            if (!paid) report('Checkout closed before the payment finished.');
          }
        }).open();
      })
      .catch(function (error) {
        button.disabled = false;
        report(error.message, 'error');
      });
  });
}());
