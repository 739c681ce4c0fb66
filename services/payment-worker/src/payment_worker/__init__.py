"""The payment worker: finalises payments once the simulated bank has answered."""
