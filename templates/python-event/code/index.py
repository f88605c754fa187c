import json
import logging


def handler(event, context):
    # An event function: the event arrives as bytes; a dict comes back as JSON.
    data = json.loads(event) if event else {}
    logging.getLogger().info('request %s', context.request_id)
    return {'message': 'hello %s' % data.get('name', 'world')}
