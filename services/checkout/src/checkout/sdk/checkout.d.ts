// Type declarations for the PaymentGateway checkout SDK, /checkout.js
// (services/checkout/README.md#embedded-mode-and-the-sdk). Served beside it as /checkout.d.ts: save
// it next to your code, or reference it with
//   /// <reference path="./checkout.d.ts" />

/** What onSuccess receives when the shopper's payment succeeded. */
export interface PaymentSuccess {
  paymentId: string;
  orderId?: string;
  status?: 'success';
}

/** The API's error object (docs/api.md#errors), or a payment's error code and description. */
export interface PaymentError {
  code: string;
  description: string;
  field?: string;
}

/** What onFailure receives: a declined payment (paymentId set; error.code ORDER_ALREADY_PAID when
 *  an earlier payment of the order succeeded, so the order is paid), an attempt the API refused
 *  because the order was paid meanwhile (error.code ORDER_ALREADY_PAID, no paymentId), or an order
 *  the checkout cannot show: unknown, not this key's merchant's, or a link that is not valid. A
 *  payment the API refuses for an invalid UPI ID or card is corrected in the checkout and never
 *  reaches you. */
export interface PaymentFailure {
  orderId?: string;
  paymentId?: string;
  error: PaymentError;
}

export interface PaymentGatewayOptions {
  /** Your API key (key_test_… / key_live_…): the checkout shows only your own orders. */
  key: string;
  /** The id of an order your server created (order_ + 16 letters and digits). */
  orderId: string;
  onSuccess?: (result: PaymentSuccess) => void;
  onFailure?: (failure: PaymentFailure) => void;
  onClose?: () => void;
}

/** Opens the hosted checkout in a modal iframe. Throws an Error when key or orderId is missing,
 *  or when the page is not served over http(s) (a file opened from disk, a sandboxed frame): the
 *  checkout could not tell such a page the outcome. */
declare class PaymentGateway {
  constructor(options: PaymentGatewayOptions);
  readonly options: PaymentGatewayOptions;
  /** Appends the modal (once; a second call while open does nothing); called before the page
   *  has a <body>, at DOMContentLoaded. */
  open(): this;
  /** Removes the modal and calls onClose. */
  close(): this;
}

export default PaymentGateway;
export { PaymentGateway };

declare global {
  interface Window {
    PaymentGateway: typeof PaymentGateway;
  }
}
