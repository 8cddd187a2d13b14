import hashlib
import os

from django.http import FileResponse, HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from .models import Note

FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'files')


@require_safe
def index(request):
    return render(request, 'notes/index.html', {'notes': Note.objects.all()})


@require_safe
def notes_json(request):
    notes = [{'id': n.id, 'title': n.title, 'body': n.body, 'pinned': n.pinned}
             for n in Note.objects.all()]
    return JsonResponse({'notes': notes, 'script_name': request.META.get('SCRIPT_NAME', ''),
                         'path': request.path, 'path_info': request.path_info})


@require_safe
def stream(request):
    """StreamingHttpResponse: each line leaves the server as it is produced."""
    count = int(request.GET.get('n', '5'))

    def lines():
        yield 'notes: %d\n' % Note.objects.count()
        for i in range(count):
            yield 'chunk %d/%d\n' % (i + 1, count)
        yield 'end\n'

    return StreamingHttpResponse(lines(), content_type='text/plain; charset=utf-8')


@require_safe
def download(request):
    """FileResponse: Django hands the open file to wsgi.file_wrapper."""
    return FileResponse(open(os.path.join(FILES, 'handbook.txt'), 'rb'),
                        as_attachment=True, filename='handbook.txt')


@require_POST
def upload(request):
    """Multipart upload through Django's upload handlers: small files stay in
    memory, files above FILE_UPLOAD_MAX_MEMORY_SIZE go to a temporary file.
    CSRF-protected: send the csrftoken cookie's value in X-CSRFToken."""
    if not request.FILES:
        return HttpResponseBadRequest('no file in the upload\n', content_type='text/plain')
    files = []
    for field, f in sorted(request.FILES.items()):
        digest = hashlib.sha256()
        for chunk in f.chunks():
            digest.update(chunk)
        files.append({'field': field, 'name': f.name, 'size': f.size,
                      'handler': type(f).__name__,
                      'on_disk': hasattr(f, 'temporary_file_path'),
                      'sha256': digest.hexdigest()})
    return JsonResponse({'files': files, 'fields': dict(sorted(request.POST.items()))})
