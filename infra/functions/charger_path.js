// Viewer-request CloudFront Function (runtime cloudfront-js-2.0) in front of the API Gateway WebSocket API.
// WebSocket APIs do not route on paths after the stage, and OCPP-J chargers append their identity to the
// CSMS URL, so /ocpp/[...]/{charge_point_id} becomes /?charge_point_id={id} (the origin path holds the
// stage). local/gateway.py applies the same rule. CloudFront hands query strings over as the viewer spelled
// them and forwards what is left as written, so only the id is decoded and re-encoded: API Gateway then
// decodes it exactly once.

var PARAM = 'charge_point_id';

function reply(statusCode, statusDescription, text) {
    return {
        statusCode: statusCode,
        statusDescription: statusDescription,
        headers: {'content-type': {value: 'text/plain; charset=utf-8'}},
        body: {encoding: 'text', data: text}
    };
}

function decoded(text) {
    try {
        return decodeURIComponent(text);
    } catch (e) {
        return null;
    }
}

function handler(event) {
    var request = event.request;
    var segments = request.uri.split('/').filter(function (s) { return s !== ''; });
    if (segments.length < 2 || segments[0] !== 'ocpp') {
        return reply(404, 'Not Found', 'Connect to /ocpp/{charge_point_id}\n');
    }
    var id = decoded(segments[segments.length - 1]);
    if (id === null) {
        return reply(400, 'Bad Request', 'Malformed percent-encoding in the charge point id\n');
    }
    // /chargers/. and /chargers/.. are not paths HTTP clients send as written: such a charger could not be reached.
    if (id === '.' || id === '..') {
        return reply(400, 'Bad Request', 'The charge point id cannot be . or ..\n');
    }
    var query = request.querystring;
    var names = Object.keys(query);
    for (var i = 0; i < names.length; i++) {
        // Also a spelling such as charge%5Fpoint%5Fid, which API Gateway would decode into a second id.
        if (decoded(names[i]) === PARAM) {
            delete query[names[i]];
        }
    }
    query[PARAM] = {value: encodeURIComponent(id)};
    request.uri = '/';
    return request;
}
